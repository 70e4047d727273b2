using FsCheck;
using FsCheck.Fluent;
using Superalign;
using Superalign.Data;
using Superalign.Data.Tokenizers;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Data;

/// <summary>
/// The shared encoding of <see cref="TokenizerExtensions"/> against hand-computed rows. Character ids: PAD 0, BOS 1,
/// EOS 2, 'a' 3, 'b' 4, 'c' 5, 'd' 6.
/// </summary>
public sealed class SequenceLayoutTests
{
    private static readonly ITokenizer Chars = new CharacterTokenizer("abcd");

    private static (long[] Tokens, float[] Mask) Encode(ITokenizer tokenizer, (string, string)[] examples, SequenceOptions options, int? length = null)
    {
        using var scope = NewDisposeScope();
        var (tokens, mask) = tokenizer.EncodeExamples(examples, length, sequences: options);
        return (tokens.data<long>().ToArray(), mask.data<float>().ToArray());
    }

    [Fact]
    public void Left_padding_ends_every_row_at_the_last_column_and_right_padding_starts_it_at_the_first()
    {
        var left = Encode(Chars, [("ab", "c"), ("a", "c")], new SequenceOptions { Padding = PaddingSide.Left });
        Assert.Equal([1L, 3, 4, 5, 2, 0, 1, 3, 5, 2], left.Tokens);
        Assert.Equal([0f, 0, 0, 1, 1, 0, 0, 0, 1, 1], left.Mask);
        var right = Encode(Chars, [("ab", "c"), ("a", "c")], SequenceOptions.Default);
        Assert.Equal([1L, 3, 4, 5, 2, 1, 3, 5, 2, 0], right.Tokens);
        Assert.Equal([0f, 0, 0, 1, 1, 0, 0, 1, 1, 0], right.Mask);
    }

    [Theory]
    // BOS a b c d | a b EOS is 8 tokens; 5 fit.
    [InlineData(TruncationPriority.PromptFirst, PromptTruncation.KeepEnd, new long[] { 1, 6, 3, 4, 2 }, new float[] { 0, 0, 1, 1, 1 })]
    [InlineData(TruncationPriority.PromptFirst, PromptTruncation.KeepStart, new long[] { 1, 3, 3, 4, 2 }, new float[] { 0, 0, 1, 1, 1 })]
    [InlineData(TruncationPriority.ResponseFirst, PromptTruncation.KeepEnd, new long[] { 1, 4, 5, 6, 3 }, new float[] { 0, 0, 0, 0, 1 })]
    [InlineData(TruncationPriority.ResponseFirst, PromptTruncation.KeepStart, new long[] { 1, 3, 4, 5, 3 }, new float[] { 0, 0, 0, 0, 1 })]
    public void Max_length_truncates_the_part_the_priority_names_first_and_keeps_the_bos(TruncationPriority priority, PromptTruncation truncation, long[] tokens, float[] mask)
    {
        var row = Encode(Chars, [("abcd", "ab")], new SequenceOptions { MaxLength = 5, Priority = priority, Truncation = truncation });
        Assert.Equal(tokens, row.Tokens);
        Assert.Equal(mask, row.Mask);
    }

    [Fact]
    public void Prompt_and_completion_limits_cut_the_prompt_from_the_left_and_the_completion_from_its_end()
    {
        var row = Encode(Chars, [("abcd", "ab")], new SequenceOptions { MaxPromptLength = 2, MaxCompletionLength = 2 });
        Assert.Equal([1L, 6, 3, 4], row.Tokens);
        Assert.Equal([0f, 0, 1, 1], row.Mask);
    }

    [Fact]
    public void A_pairs_prompt_is_truncated_once_for_its_longer_completion()
    {
        var records = new[] { new PreferenceRecord("abcd", "a", "abc") };
        using var scope = NewDisposeScope();
        var pairs = Chars.ToPreferenceDataset(records, sequences: new SequenceOptions { MaxLength = 6 }).Pairs;
        static long[] Tokens(ResponseBatch b) => cat([b.Inputs.narrow(1, 0, 1), b.Targets], 1).data<long>().ToArray();
        // The batch's mask is the response mask shifted by one (position t predicts token t + 1).
        Assert.Equal([1L, 6, 3, 2, 0, 0], Tokens(pairs.Chosen));
        Assert.Equal([0f, 1, 1, 0, 0], pairs.Chosen.Mask.data<float>().ToArray());
        Assert.Equal([1L, 6, 3, 4, 5, 2], Tokens(pairs.Rejected));
        Assert.Equal([0f, 1, 1, 1, 1], pairs.Rejected.Mask.data<float>().ToArray());
    }

    [Fact]
    public void Without_truncation_a_sequence_longer_than_the_width_is_still_an_error()
    {
        Assert.Contains("examples[0] needs 8 tokens", Assert.Throws<ArgumentException>(() => Encode(Chars, [("abcd", "ab")], SequenceOptions.Default, length: 5)).Message);
        Assert.Equal(5, Encode(Chars, [("abcd", "ab")], new SequenceOptions { MaxLength = 5 }, length: 5).Tokens.Length);
    }

    [Fact]
    public void Gpt2_rows_get_the_eos_appended_and_are_padded_with_it()
    {
        var gpt2 = PretrainedTokenizer.Gpt2();
        var rows = Encode(gpt2, [("Hello", " world"), ("Hello world", "!")], SequenceOptions.Default);
        Assert.Equal([50256L, 15496, 995, 50256, 50256, 50256, 15496, 995, 0, 50256], rows.Tokens);
        Assert.Equal([0f, 0, 1, 1, 0, 0, 0, 0, 1, 1], rows.Mask);

        using var scope = NewDisposeScope();
        var prompts = gpt2.EncodePrompts(["Hello world", "Hello"], sequences: new SequenceOptions { Padding = PaddingSide.Left });
        Assert.Equal([50256L, 15496, 995, 50256, 50256, 15496], prompts.data<long>().ToArray());
        Assert.Equal(["Hello world", "Hello"], gpt2.DecodeRows(prompts));
        Assert.Throws<ArgumentException>(() => gpt2.EncodePrompts(["Hello world", "Hello"]));
    }

    [Fact]
    public void Options_are_checked_when_set_and_name_the_option()
    {
        Assert.Equal("MaxLength", Assert.Throws<ArgumentOutOfRangeException>(() => new SequenceOptions { MaxLength = 1 }).ParamName);
        Assert.Equal("MaxPromptLength", Assert.Throws<ArgumentOutOfRangeException>(() => new SequenceOptions { MaxPromptLength = 0 }).ParamName);
        Assert.Equal("MaxCompletionLength", Assert.Throws<ArgumentOutOfRangeException>(() => new SequenceOptions { MaxCompletionLength = 0 }).ParamName);
        Assert.Equal("Padding", Assert.Throws<ArgumentOutOfRangeException>(() => new SequenceOptions { Padding = (PaddingSide)7 }).ParamName);
        Assert.Equal("Priority", Assert.Throws<ArgumentOutOfRangeException>(() => new SequenceOptions { Priority = (TruncationPriority)7 }).ParamName);
    }

    [Fact]
    public void Truncated_rows_fit_keep_the_bos_a_slice_of_the_prompt_and_a_head_of_the_completion()
    {
        var text = Gen.Elements('a', 'b', 'c', 'd').ArrayOf().Select(c => new string(c));
        var cases =
            from prompt in text
            from response in text
            from most in Gen.Choose(2, 12)
            from mostPrompt in Gen.Choose(1, 12)
            from mostCompletion in Gen.Choose(1, 12)
            from priority in Gen.Elements(TruncationPriority.PromptFirst, TruncationPriority.ResponseFirst)
            from truncation in Gen.Elements(PromptTruncation.KeepEnd, PromptTruncation.KeepStart)
            select (prompt, response, most, mostPrompt, mostCompletion, priority, truncation);
        Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var (prompt, response, most, mostPrompt, mostCompletion, priority, truncation) = c;
            var options = new SequenceOptions { MaxLength = most, MaxPromptLength = mostPrompt, MaxCompletionLength = mostCompletion, Priority = priority, Truncation = truncation };
            var (tokens, mask) = Encode(Chars, [(prompt, response)], options);
            int completionAt = Array.IndexOf(mask, 1f) is var i and >= 0 ? i : tokens.Length;
            var promptIds = Chars.Encode(prompt);
            var kept = tokens[1..completionAt];
            var completion = tokens[completionAt..];
            var full = Chars.Encode(response).Append(CharacterTokenizer.Eos).ToArray();
            bool slice = truncation == PromptTruncation.KeepEnd ? promptIds.AsSpan().EndsWith(kept) : promptIds.AsSpan().StartsWith(kept);
            return tokens.Length <= most && tokens[0] == CharacterTokenizer.Bos && completionAt <= mostPrompt && completion.Length <= mostCompletion
                && completion.Length >= 1 && slice && full.AsSpan().StartsWith(completion);
        }).QuickCheckThrowOnFailure();
    }
}
