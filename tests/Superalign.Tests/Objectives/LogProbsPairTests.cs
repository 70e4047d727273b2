using Superalign.Objectives;
using Superalign.Students;
using Superalign.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Objectives;

/// <summary>
/// <see cref="LogProbs.Pair"/> runs chosen and rejected through the student as one 2B batch; the result must equal two
/// separate passes, including when the two sides have different lengths (the shorter side is right-padded).
/// </summary>
public sealed class LogProbsPairTests
{
    [Theory]
    [InlineData(9, 9)]
    [InlineData(7, 12)]
    [InlineData(12, 5)]
    public void Concatenated_pass_equals_separate_passes_for_a_language_model(int chosenLength, int rejectedLength)
    {
        using var scope = NewDisposeScope();
        using var lm = new TinyCausalLm(new TinyCausalLmOptions(VocabularySize: 23, MaxSequenceLength: 16, ModelDim: 32, Layers: 2, Heads: 4, Seed: 5), CPU);
        lm.SetTraining(false);
        var g = new Generator(11);
        var chosenTokens = randint(23, new long[] { 3, chosenLength }, generator: g);
        var rejectedTokens = randint(23, new long[] { 3, rejectedLength }, generator: g);
        // Prompt of 4 tokens, the rest is the response; row 1's response ends early (padding).
        Tensor Mask(int length)
        {
            var m = zeros(3, length);
            m.narrow(1, 4, length - 4).fill_(1);
            m[1].narrow(0, length - 2, 2).fill_(0);
            return m;
        }
        var chosen = ResponseBatch.ForCausalLm(chosenTokens, Mask(chosenLength));
        var rejected = ResponseBatch.ForCausalLm(rejectedTokens, Mask(rejectedLength));

        var (pc, pr) = LogProbs.Pair(lm, new PreferenceBatch(chosen, rejected));

        TorchAssert.Close(LogProbs.Sequence(lm, chosen), pc, 1e-5, 1e-5, "chosen");
        TorchAssert.Close(LogProbs.Sequence(lm, rejected), pr, 1e-5, 1e-5, "rejected");
        Assert.True(pc.abs().min().ToDouble() > 0, "every chosen response has scored tokens");
    }
}
