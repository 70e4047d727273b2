using System.Text.Json;
using Superalign.Data.Tokenizers;
using Xunit;

namespace Superalign.Tests.Data.Tokenizers;

/// <summary>
/// Two SentencePiece models trained by <c>tests/fixtures-src/make_sentencepiece_fixtures.py</c> (a Llama-style BPE with
/// byte fallback and a Unigram with NFKC normalization), with the ids and decoded text of Google's <c>sentencepiece</c>
/// library committed beside them: <see cref="PretrainedTokenizer"/> must give the same ids, and the same text back
/// except where docs/language-models.md says otherwise.
/// </summary>
public sealed class SentencePieceFixtureTests
{
    private static string FixtureDir(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "SentencePiece", name);

    private static string ModelFile(string name) => Path.Combine(FixtureDir(name), "tokenizer.model");

    private sealed record Case(string Text, long[] Ids, long[]? DirectoryIds, string Decoded);

    private static Case[] Cases(string model)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(FixtureDir(model), "expected.json")));
        static long[] Ids(JsonElement e) => e.EnumerateArray().Select(i => i.GetInt64()).ToArray();
        return document.RootElement.GetProperty("cases").EnumerateArray()
            .Select(c => new Case(c.GetProperty("text").GetString()!, Ids(c.GetProperty("ids")),
                c.TryGetProperty("directory_ids", out var d) ? Ids(d) : null, c.GetProperty("decoded").GetString()!))
            .ToArray();
    }

    public static TheoryData<string, int> AllCases()
    {
        var data = new TheoryData<string, int>();
        foreach (var model in new[] { "llama-bpe", "unigram" })
        {
            for (int i = 0; i < Cases(model).Length; i++) data.Add(model, i);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(AllCases))]
    public void The_tokenizer_model_encodes_as_the_sentencepiece_library(string model, int index)
    {
        var c = Cases(model)[index];
        Assert.Equal(c.Ids, PretrainedTokenizer.FromSentencePiece(ModelFile(model)).Encode(c.Text));
    }

    [Theory]
    [MemberData(nameof(AllCases))]
    public void The_directory_encodes_as_the_sentencepiece_library_with_the_configured_added_tokens_matched_first(string model, int index)
    {
        // llama-bpe has a Llama tokenizer_config.json declaring <unk>, <s>, </s> as added tokens (the script splits the
        // text at them as Hugging Face does and encodes the rest with sentencepiece); unigram has no configuration.
        var c = Cases(model)[index];
        Assert.Equal(c.DirectoryIds ?? c.Ids, PretrainedTokenizer.FromDirectory(FixtureDir(model)).Encode(c.Text));
    }

    [Theory]
    [MemberData(nameof(AllCases))]
    public void Decoding_the_library_ids_gives_its_text_except_that_an_unknown_id_decodes_to_nothing(string model, int index)
    {
        // sentencepiece writes an unknown piece as " ⁇ " (U+2047 between spaces); Microsoft.ML.Tokenizers 2.0.1 drops it
        // (docs/language-models.md). Only the Unigram model, which has no byte fallback, produces unknown ids.
        var c = Cases(model)[index];
        var expected = c.Decoded.Replace(" \u2047 ", "", StringComparison.Ordinal);
        Assert.Equal(expected, PretrainedTokenizer.FromSentencePiece(ModelFile(model)).Decode(c.Ids));
    }

    [Fact]
    public void The_fixtures_cover_byte_fallback_unknown_runs_whitespace_and_normalization()
    {
        // Guards the data-driven tests above against a regenerated fixture that lost its hard cases.
        var bpe = Cases("llama-bpe");
        var unigram = Cases("unigram");
        Assert.Contains(bpe, c => c.Text == "日本語" && c.Ids.Length == 10);                  // ▁ + nine byte pieces
        Assert.Contains(unigram, c => c.Text == "日本語" && c.Ids.SequenceEqual([3L, 0]));   // one <unk> for three characters
        Assert.Contains(unigram, c => c.Text.Contains('ｆ') && c.Decoded.EndsWith("full", StringComparison.Ordinal)); // NFKC
        Assert.Contains(unigram, c => c.Text == "multiple   spaces  inside" && c.Decoded == "multiple spaces inside");
        Assert.Contains(bpe, c => c.Text == "multiple   spaces  inside" && c.Decoded == c.Text);
        Assert.Contains(bpe, c => c.DirectoryIds is { Length: > 0 } d && d[0] == 1 && !c.Ids.Contains(1));
    }

    [Fact]
    public void Bos_eos_and_vocabulary_size_are_the_models_own()
    {
        foreach (var (model, size) in new[] { ("llama-bpe", 384), ("unigram", 64) })
        {
            foreach (var tokenizer in new[] { PretrainedTokenizer.FromSentencePiece(ModelFile(model)), PretrainedTokenizer.FromDirectory(FixtureDir(model)) })
            {
                Assert.Equal("sentencepiece", tokenizer.Kind);
                Assert.Equal(size, tokenizer.VocabularySize);
                Assert.Equal(1, tokenizer.BosId);
                Assert.Equal(2, tokenizer.EosId);
                Assert.Null(tokenizer.PadId);
            }
        }
        // Decoding skips the leading BOS and stops at EOS, as for every ITokenizer.
        var llama = PretrainedTokenizer.FromDirectory(FixtureDir("llama-bpe"));
        var hello = llama.Encode("Hello world");
        Assert.Equal("Hello world", llama.Decode([1, .. hello, 2, .. hello]));
    }
}
