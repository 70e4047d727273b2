using Superalign.Objectives;
using Superalign.Students;
using Superalign.Supervision;
using Superalign.Tests.Infrastructure;
using Xunit;
using static Superalign.Tests.Supervision.SupervisionTestKit;
using static TorchSharp.torch;

namespace Superalign.Tests.Supervision;

public sealed class ScoringPreferenceSupervisorTests
{
    /// <summary>Score = the first input feature.</summary>
    private static Tensor FirstFeature(ResponseBatch b) => b.Inputs.select(1, 0);

    private static ResponseBatch Responses(params float[] firstFeature) =>
        ResponseBatch.ForClassification(tensor(firstFeature).unsqueeze(1), zeros(firstFeature.Length, ScalarType.Int64));

    [Theory]
    // σ((s1 − s2)/τ) for margins 1, −1, 0
    [InlineData(1.0, 0.7310585786, 0.2689414214)]
    [InlineData(0.5, 0.8807970780, 0.1192029220)]
    [InlineData(4.0, 0.5621765009, 0.4378234991)]
    public void Preference_is_the_logistic_of_the_score_margin(double temperature, double plusOne, double minusOne)
    {
        using var scope = NewDisposeScope();
        var judge = new ScoringPreferenceSupervisor(FirstFeature, temperature);
        var first = Responses(1, 0, 2);
        var second = Responses(0, 1, 2);

        var p = LeavesOnly(1, () => judge.Prefer(first, second));

        Assert.Equal(ScalarType.Float32, p.dtype);
        TorchAssert.Close(tensor(new[] { (float)plusOne, (float)minusOne, 0.5f }), p, 1e-6, what: $"τ = {temperature}");
    }

    [Fact]
    public void Zero_temperature_gives_hard_judgments()
    {
        using var scope = NewDisposeScope();
        var p = new ScoringPreferenceSupervisor(FirstFeature, temperature: 0).Prefer(Responses(1, 0, 2), Responses(0, 1, 2));
        Assert.Equal(new[] { 1f, 0f, 0.5f }, Floats(p));
    }

    [Fact]
    public void Label_noise_reverses_judgments_at_its_rate_reproducibly()
    {
        using var scope = NewDisposeScope();
        const int n = 20_000;
        var first = ResponseBatch.ForClassification(ones(n, 1), zeros(n, ScalarType.Int64));
        var second = ResponseBatch.ForClassification(zeros(n, 1), zeros(n, ScalarType.Int64));
        var judge = new ScoringPreferenceSupervisor(FirstFeature, temperature: 0, labelNoise: 0.3, seed: 4);

        var p = Floats(judge.Prefer(first, second));

        Assert.All(p, v => Assert.True(v == 0 || v == 1));
        BinomialCount(p.Count(v => v == 0), n, 0.3, "reversed judgments");
        Assert.NotEqual(p, Floats(judge.Prefer(first, second)));
        judge.Reset();
        Assert.Equal(p, Floats(judge.Prefer(first, second)));
        Assert.Equal(p, Floats(new ScoringPreferenceSupervisor(FirstFeature, 0, 0.3, seed: 4).Prefer(first, second)));
    }

    [Fact]
    public void Full_noise_reverses_every_graded_judgment()
    {
        using var scope = NewDisposeScope();
        var p = new ScoringPreferenceSupervisor(FirstFeature, 1, labelNoise: 1).Prefer(Responses(1, 0), Responses(0, 1));
        TorchAssert.Close(tensor(new[] { 0.2689414214f, 0.7310585786f }), p, 1e-6, what: "reversed");
    }

    [Fact]
    public void A_judge_model_compares_response_log_probabilities_and_keeps_its_training_mode()
    {
        using var scope = NewDisposeScope();
        using var model = new MlpClassifier(new MlpClassifierOptions(4, 3, HiddenWidth: 16, Dropout: 0.5, Seed: 2), CPU);
        var x = Features(6, 4, seed: 9);
        var first = ResponseBatch.ForClassification(x, tensor(new long[] { 0, 1, 2, 0, 1, 2 }));
        var second = ResponseBatch.ForClassification(x, tensor(new long[] { 1, 2, 0, 0, 0, 0 }));
        model.SetTraining(false);
        Tensor expected;
        using (no_grad())
        {
            var logp = model.ClassLogits(x).log_softmax(1);
            var margin = logp.gather(1, first.Targets) - logp.gather(1, second.Targets);
            expected = (margin.squeeze(1) / 2).sigmoid();
        }
        model.SetTraining(true);
        var judge = ScoringPreferenceSupervisor.FromJudge(model, temperature: 2);

        var p = LeavesOnly(1, () => judge.Prefer(first, second));

        Assert.True(model.Module.training, "training mode restored");
        TorchAssert.Close(expected, p, 1e-6, what: "judge preference");
        Assert.Equal(0.5f, Floats(p)[3]); // the same response on both sides
        Assert.Equal(Floats(p), Floats(judge.Prefer(first, second))); // no dropout while judging
        Assert.Contains(model.Name, judge.Name);
    }

    [Fact]
    public void Per_token_judging_divides_by_response_length()
    {
        using var scope = NewDisposeScope();
        using var lm = new TinyCausalLm(new TinyCausalLmOptions(VocabularySize: 11, MaxSequenceLength: 16, ModelDim: 16, Layers: 1, Heads: 2, Seed: 3), CPU);
        using var g = new TorchSharp.torch.Generator(5, CPU);
        var tokens = randint(0, 11, new long[] { 2, 7 }, generator: g);
        // Responses of 4 and 2 tokens against responses of 2 and 5 tokens.
        var first = ResponseBatch.ForCausalLm(tokens, tensor(new float[] { 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1 }, new long[] { 2, 7 }));
        var second = ResponseBatch.ForCausalLm(tokens.flip(1), tensor(new float[] { 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 1 }, new long[] { 2, 7 }));
        Tensor expected;
        using (no_grad())
            expected = (LogProbs.Sequence(lm, first) / first.Lengths() - LogProbs.Sequence(lm, second) / second.Lengths()).sigmoid();

        var p = ScoringPreferenceSupervisor.FromJudge(lm, perToken: true).Prefer(first, second);

        TorchAssert.Close(expected, p, 1e-6, what: "per-token preference");
        var summed = ScoringPreferenceSupervisor.FromJudge(lm).Score(first);
        TorchAssert.Close(LogProbs.Sequence(lm, first).detach(), summed, 1e-6, what: "summed score");
    }

    [Fact]
    public void Bad_inputs_are_reported_clearly()
    {
        Assert.Equal("temperature", Assert.Throws<ArgumentOutOfRangeException>(() => new ScoringPreferenceSupervisor(FirstFeature, -1)).ParamName);
        Assert.Equal("temperature", Assert.Throws<ArgumentOutOfRangeException>(() => new ScoringPreferenceSupervisor(FirstFeature, double.NaN)).ParamName);
        Assert.Equal("labelNoise", Assert.Throws<ArgumentOutOfRangeException>(() => new ScoringPreferenceSupervisor(FirstFeature, 1, 1.5)).ParamName);
        Assert.Equal("score", Assert.Throws<ArgumentNullException>(() => new ScoringPreferenceSupervisor(null!)).ParamName);
        Assert.Equal("judge", Assert.Throws<ArgumentNullException>(() => ScoringPreferenceSupervisor.FromJudge(null!)).ParamName);

        using var scope = NewDisposeScope();
        var judge = new ScoringPreferenceSupervisor(FirstFeature);
        Assert.Equal("second", Assert.Throws<ArgumentException>(() => judge.Prefer(Responses(1, 2), Responses(1))).ParamName);
        Assert.Equal("first", Assert.Throws<ArgumentNullException>(() => judge.Prefer(null!, Responses(1))).ParamName);
        var broken = new ScoringPreferenceSupervisor(b => zeros(b.Count, 2), name: "broken-judge");
        Assert.Contains("broken-judge", Assert.Throws<InvalidOperationException>(() => broken.Prefer(Responses(1), Responses(2))).Message);
    }
}
