using FsCheck;
using FsCheck.Fluent;
using Superalign.Data;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Data;

public class CharacterTokenizerTests
{
    [Fact]
    public void Examples_are_bos_prompt_response_eos_with_the_mask_on_response_and_eos()
    {
        var tokenizer = new CharacterTokenizer("ab=");
        using var scope = NewDisposeScope();
        var (tokens, mask) = tokenizer.EncodeExamples([("a=", "b"), ("=", "ab")], length: 6);
        // ids: PAD 0, BOS 1, EOS 2, 'a' 3, 'b' 4, '=' 5
        Assert.Equal(new long[] { 1, 3, 5, 4, 2, 0, 1, 5, 3, 4, 2, 0 }, tokens.data<long>().ToArray());
        Assert.Equal(new float[] { 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 0 }, mask.data<float>().ToArray());
        Assert.Equal(6, tokenizer.VocabularySize);
    }

    [Fact]
    public void Decode_stops_at_eos_and_skips_bos()
    {
        var tokenizer = new CharacterTokenizer("xy");
        Assert.Equal("xy", tokenizer.Decode([1, 3, 4, 2, 3]));
        Assert.Equal("", tokenizer.Decode([2, 3]));
        Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.Decode([9]));
    }

    [Fact]
    public void Encode_then_decode_is_the_identity_on_alphabet_strings()
    {
        const string alphabet = "0123456789+-=#~";
        var tokenizer = new CharacterTokenizer(alphabet);
        var texts = Gen.Elements(alphabet.ToCharArray()).ArrayOf().Select(c => new string(c)).ToArbitrary();
        Prop.ForAll(texts, text => tokenizer.Decode(tokenizer.Encode(text)) == text).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Errors_name_the_character_and_where_it_is()
    {
        var tokenizer = new CharacterTokenizer("ab");
        var error = Assert.Throws<ArgumentException>(() => tokenizer.Encode("abc"));
        Assert.Contains("'c' at position 2", error.Message);
        Assert.Throws<ArgumentException>(() => new CharacterTokenizer("aba"));
        var record = new PreferenceRecord("a", "b", "z", "prefs.jsonl", 12);
        var inRecord = Assert.Throws<ArgumentException>(() => tokenizer.ToPreferenceDataset([record]));
        Assert.StartsWith("prefs.jsonl:12: field 'rejected'", inRecord.Message);
        var tooLong = Assert.Throws<ArgumentException>(() => tokenizer.EncodeExamples([("aa", "bb")], length: 5));
        Assert.Equal("length", tooLong.ParamName);
        Assert.Throws<ArgumentException>(() => tokenizer.EncodePrompts(["a", "ab"]));
    }

    [Fact]
    public void Jsonl_preferences_become_a_causal_lm_preference_dataset()
    {
        var path = Path.Combine(Path.GetTempPath(), $"superalign-{Guid.NewGuid():N}.jsonl");
        File.WriteAllText(path, "{\"prompt\":\"1+1=\",\"chosen\":\"2\",\"rejected\":\"3\"}\n{\"prompt\":\"2+2=\",\"chosen\":\"4\",\"rejected\":\"22\"}\n");
        try
        {
            var records = DataFiles.ReadPreferenceJsonl(path);
            var tokenizer = CharacterTokenizer.FromRecords(records);
            Assert.Equal("+1234=", tokenizer.Alphabet);
            using var scope = NewDisposeScope();
            var data = tokenizer.ToPreferenceDataset(records);
            Assert.Equal(2, data.Count);
            // Width: BOS + 4 prompt chars + the longer completion (2) + EOS = 8; inputs drop the last token.
            Assert.Equal(new long[] { 2, 7 }, data.Pairs.Chosen.Inputs.shape);
            // Scored positions: the completion and its EOS.
            Assert.Equal(new float[] { 2, 2 }, data.Pairs.Chosen.Lengths().data<float>().ToArray());
            Assert.Equal(new float[] { 2, 3 }, data.Pairs.Rejected.Lengths().data<float>().ToArray());
            var chosenTokens = cat([data.Pairs.Chosen.Inputs.narrow(1, 0, 1), data.Pairs.Chosen.Targets], 1);
            Assert.Equal(["1+1=2", "2+2=4"], tokenizer.DecodeRows(chosenTokens));
        }
        finally
        {
            File.Delete(path);
        }
    }
}

/// <summary>
/// Regression tests for the tokenizer's measured failures (issue 14): int overflow of the padded size, padding every
/// row to one huge record, and messages quoting whole texts.
/// </summary>
public class CharacterTokenizerLimitTests
{
    [Fact]
    public void Many_rows_times_one_long_row_is_an_argument_error_not_an_overflow()
    {
        // 65,537 rows padded to 32,770 tokens overflowed `int` (IndexOutOfRangeException or OverflowException).
        var tokenizer = new CharacterTokenizer("ab");
        var longText = new string('a', 32_767);
        var examples = Enumerable.Repeat(("a", "b"), 65_536).Append((longText, "b")).ToList();
        var inferred = Assert.Throws<ArgumentException>(() => tokenizer.EncodeExamples(examples));
        Assert.Contains("examples[65536] needs 32,770 tokens", inferred.Message);
        Assert.Contains("MaxLength (4,096)", inferred.Message);
        var given = Assert.Throws<ArgumentException>(() => tokenizer.EncodeExamples(examples, length: 40_000));
        Assert.Contains("65,537 sequences of 40,000 tokens", given.Message);
        var prompts = Enumerable.Repeat(longText + "b", 65_537).ToList();
        Assert.Throws<ArgumentException>(() => tokenizer.EncodePrompts(prompts));
        var wide = new EncodingLimits { MaxLength = 1 << 20 };
        Assert.Contains("elements", Assert.Throws<ArgumentException>(() => tokenizer.EncodePrompts(prompts, limits: wide)).Message);
    }

    [Fact]
    public void One_long_record_does_not_widen_every_row_silently()
    {
        // A 1.5 MB file padded every row to its longest record: over 4 GiB.
        var tokenizer = new CharacterTokenizer("ab");
        var records = Enumerable.Range(1, 10).Select(i => new PreferenceRecord("a", "b", "a", "prefs.jsonl", i))
            .Append(new PreferenceRecord(new string('a', 10_000), "b", "ab", "prefs.jsonl", 11)).ToList();
        var error = Assert.Throws<ArgumentException>(() => tokenizer.ToPreferenceDataset(records));
        Assert.StartsWith("prefs.jsonl:11: the record needs 10,004 tokens", error.Message);
        var tooShort = Assert.Throws<ArgumentException>(() => tokenizer.ToPreferenceDataset(records, length: 100));
        Assert.StartsWith("prefs.jsonl:11:", tooShort.Message);
        using var scope = NewDisposeScope();
        var data = tokenizer.ToPreferenceDataset(records, limits: new EncodingLimits { MaxLength = 20_000 });
        Assert.Equal(11, data.Count);
        var capped = new EncodingLimits { MaxLength = 20_000, MaxElements = 100_000 };
        Assert.Contains("11 sequences of 10,004 tokens", Assert.Throws<ArgumentException>(() => tokenizer.ToPreferenceDataset(records, limits: capped)).Message);
    }

    [Fact]
    public void Errors_quote_a_bounded_excerpt_and_name_the_example()
    {
        var tokenizer = new CharacterTokenizer("ab");
        var text = new string('a', 100_000) + "z" + new string('b', 100_000);
        var error = Assert.Throws<ArgumentException>(() => tokenizer.Encode(text));
        Assert.Contains("'z' at position 100000", error.Message);
        Assert.True(error.Message.Length < 300, $"message of {error.Message.Length} characters");
        var tooLong = Assert.Throws<ArgumentException>(() => tokenizer.EncodeExamples([("a", "b"), ("aa", "bb")], length: 5));
        Assert.Contains("examples[1] needs 6 tokens", tooLong.Message);
        Assert.Equal("length", tooLong.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.EncodeExamples([("a", "b")], limits: new EncodingLimits { MaxLength = 1 }));
    }
}
