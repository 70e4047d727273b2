using FsCheck;
using FsCheck.Fluent;
using Superalign.Data;
using Superalign.Data.Tokenizers;
using Xunit;

namespace Superalign.Tests.Data.Tokenizers;

/// <summary>The Microsoft.ML.Tokenizers adapters: GPT-2's known ids, a hand-computed byte-level BPE, the directory factory and its errors.</summary>
public sealed class PretrainedTokenizerTests : IDisposable
{
    private static readonly Lazy<PretrainedTokenizer> Gpt2 = new(PretrainedTokenizer.Gpt2);

    // A byte-level BPE small enough to merge by hand ('Ġ' is GPT-2's byte-level space).
    private const string Vocab = """{"h":0,"e":1,"l":2,"o":3,"Ġ":4,"w":5,"r":6,"d":7,"he":8,"ll":9,"hell":10,"hello":11,"Ġw":12,"or":13}""";
    private static readonly string[] Merges = ["#version: 0.2", "h e", "l l", "he ll", "hell o", "Ġ w", "o r"];

    private readonly string _dir = Directory.CreateTempSubdirectory("superalign-tok-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Gpt2_gives_the_published_ids_and_endoftext_is_bos_and_eos()
    {
        var gpt2 = Gpt2.Value;
        Assert.Equal([15496L, 995], gpt2.Encode("Hello world"));
        // "!" is GPT-2's id 0, "\n" (byte-level "Ċ") 198, " the" 262.
        Assert.Equal([15496L, 995, 0, 198, 262], gpt2.Encode("Hello world!\n the"));
        Assert.Equal([50256L, 15496], gpt2.Encode("<|endoftext|>Hello"));
        Assert.Equal(50256, gpt2.BosId);
        Assert.Equal(50256, gpt2.EosId);
        Assert.Null(gpt2.PadId);
        Assert.Equal(50257, gpt2.VocabularySize);
    }

    [Fact]
    public void Gpt2_decoding_skips_the_leading_bos_and_padding_and_stops_at_eos()
    {
        var gpt2 = Gpt2.Value;
        Assert.Equal("Hello world", gpt2.Decode([50256, 50256, 15496, 995, 50256, 262]));
        Assert.Throws<ArgumentOutOfRangeException>(() => gpt2.Decode([50257]));
    }

    [Fact]
    public void Decode_of_encode_is_the_identity_on_printable_ascii_for_gpt2_and_the_character_tokenizer()
    {
        var printable = new string(Enumerable.Range(32, 95).Select(c => (char)c).ToArray());
        ITokenizer character = new CharacterTokenizer(printable);
        var texts = Gen.Elements(printable.ToCharArray()).ArrayOf().Select(c => new string(c)).ToArbitrary();
        Prop.ForAll(texts, text => Gpt2.Value.Decode(Gpt2.Value.Encode(text)) == text && character.Decode(character.Encode(text)) == text)
            .QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Vocab_and_merges_give_the_hand_computed_merges()
    {
        var tokenizer = PretrainedTokenizer.FromVocabAndMerges(Write("vocab.json", Vocab), Write("merges.txt", string.Join('\n', Merges)),
            new Dictionary<string, int> { ["<|endoftext|>"] = 14 }, eosToken: "<|endoftext|>");
        // "hello": h e l l o -> he l l o -> he ll o -> hell o -> hello; " world": Ġ w o r l d -> Ġw o r l d -> Ġw or l d.
        Assert.Equal([11L, 12, 13, 2, 7], tokenizer.Encode("hello world"));
        Assert.Equal([8L, 2, 14, 3], tokenizer.Encode("hel<|endoftext|>o"));
        Assert.Equal(15, tokenizer.VocabularySize);
        Assert.Null(tokenizer.BosId);
        Assert.Equal(14, tokenizer.EosId);
        Assert.Equal("hello world", tokenizer.Decode([11, 12, 13, 2, 7, 14, 3]));
    }

    [Fact]
    public void A_tokenizer_json_with_merge_pairs_and_added_tokens_reads_as_the_same_bpe_and_the_directory_takes_its_specials_from_the_config()
    {
        Write("model/tokenizer.json", """
            {"version": "1.0", "added_tokens": [{"id": 14, "content": "<|endoftext|>", "special": true}],
             "normalizer": null, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
             "model": {"type": "BPE", "vocab": VOCAB, "merges": [["h", "e"], ["l", "l"], ["he", "ll"], ["hell", "o"], ["Ġ", "w"], ["o", "r"]]}}
            """.Replace("VOCAB", Vocab));
        Write("model/tokenizer_config.json", """{"bos_token": "<|endoftext|>", "eos_token": {"content": "<|endoftext|>"}, "pad_token": null}""");
        var tokenizer = PretrainedTokenizer.FromDirectory(Path.Combine(_dir, "model"));
        Assert.Equal("bpe", tokenizer.Kind);
        Assert.Equal([11L, 12, 13, 2, 7, 14], tokenizer.Encode("hello world<|endoftext|>"));
        Assert.Equal(14, tokenizer.BosId);
        Assert.Equal(14, tokenizer.EosId);
        Assert.Null(tokenizer.PadId);
    }

    [Fact]
    public void The_directory_factory_falls_back_to_vocab_and_merges_with_special_tokens_map()
    {
        Write("m/vocab.json", Vocab);
        Write("m/merges.txt", string.Join('\n', Merges));
        Write("m/special_tokens_map.json", """{"eos_token": "o"}""");
        var tokenizer = PretrainedTokenizer.FromDirectory(Path.Combine(_dir, "m"));
        Assert.Equal([11L], tokenizer.Encode("hello"));
        Assert.Equal(3, tokenizer.EosId);
    }

    [Fact]
    public void File_problems_name_the_file_and_the_line_or_key()
    {
        var vocab = Write("v.json", Vocab);
        var badMerges = Write("bad-merges.txt", "#version: 0.2\nh e\nl l l\n");
        var merges = Assert.Throws<DataFileException>(() => PretrainedTokenizer.FromVocabAndMerges(vocab, badMerges));
        Assert.StartsWith($"{badMerges}:3:", merges.Message);

        var wordPiece = Write("wp/tokenizer.json", """{"model": {"type": "WordPiece", "vocab": {}}}""");
        var type = Assert.Throws<DataFileException>(() => PretrainedTokenizer.FromTokenizerJson(wordPiece));
        Assert.StartsWith($"{wordPiece}:1:", type.Message);
        Assert.Contains("'model.type'", type.Message);

        var broken = Write("broken/tokenizer.json", "{\n\"model\": {\n\"type\": \"BPE\",,\n}}");
        Assert.StartsWith($"{broken}:3:", Assert.Throws<DataFileException>(() => PretrainedTokenizer.FromTokenizerJson(broken)).Message);

        var unknown = Assert.Throws<DataFileException>(() => PretrainedTokenizer.FromVocabAndMerges(vocab, Write("ok-merges.txt", "h e\n"), eosToken: "</s>"));
        Assert.Contains("'</s>'", unknown.Message);

        var notSentencePiece = Write("sp/tokenizer.model", "not a protobuf at all");
        Assert.StartsWith($"{notSentencePiece}:1:", Assert.Throws<DataFileException>(() => PretrainedTokenizer.FromSentencePiece(notSentencePiece)).Message);
        Assert.StartsWith($"{notSentencePiece}:1:", Assert.Throws<DataFileException>(() => PretrainedTokenizer.FromDirectory(Path.Combine(_dir, "sp"))).Message);

        Directory.CreateDirectory(Path.Combine(_dir, "empty"));
        Assert.Contains("tokenizer.json", Assert.Throws<FileNotFoundException>(() => PretrainedTokenizer.FromDirectory(Path.Combine(_dir, "empty"))).Message);
    }
}
