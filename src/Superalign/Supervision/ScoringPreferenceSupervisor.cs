using MathNet.Numerics.Random;
using Superalign.Objectives;
using TorchSharp;
using static TorchSharp.torch;

namespace Superalign.Supervision;

/// <summary>
/// AI feedback: a judge that scores each response and prefers the higher-scoring one with probability
/// <c>σ((s₁ − s₂) / τ)</c> (Bradley–Terry). The scores can come from any function — a reward model, a heuristic, a
/// rule with access to ground truth — or from a judge model's log-probabilities (<see cref="FromJudge"/>), which is
/// how a model supervises itself or a peer in self-enhancement (LAIF).
/// </summary>
/// <remarks>
/// <para><b>Temperature.</b> τ &gt; 0 gives graded probabilities; τ = 0 gives hard judgments (1, 0, or 0.5 on a
/// tie) — with a true score function that is the preference oracle.</para>
/// <para><b>Label noise.</b> With <c>labelNoise</c> ε &gt; 0 each judgment is reversed (p → 1 − p) independently with
/// probability ε, drawn from a seeded stream on the CPU (one uniform per pair, in batch order; successive calls
/// continue the stream, <see cref="Reset"/> restarts it): a careless or adversarial annotator whose mistakes the
/// student might learn. In expectation this is <c>(1 − ε)p + ε(1 − p)</c>. Not thread-safe.</para>
/// <para>Scores are computed without gradients; preferences are float32 <c>[B]</c> on the device of
/// <c>first.Inputs</c>.</para>
/// </remarks>
public sealed class ScoringPreferenceSupervisor : IPreferenceSupervisor
{
    private readonly Func<ResponseBatch, Tensor> _score;
    private Xoshiro256StarStar _random;

    /// <summary>A judge from a scoring function.</summary>
    /// <param name="score">Per-response scores <c>[B]</c> (higher is better).</param>
    /// <param name="temperature">τ, finite and at least 0 (0 = hard judgments).</param>
    /// <param name="labelNoise">Probability ε in [0, 1] of reversing each judgment.</param>
    /// <param name="seed">Seed of the label-noise stream.</param>
    /// <param name="name">Name used in reports.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="temperature"/> or <paramref name="labelNoise"/> is out of range.</exception>
    public ScoringPreferenceSupervisor(Func<ResponseBatch, Tensor> score, double temperature = 1.0, double labelNoise = 0, int seed = 0, string name = "judge")
    {
        ArgumentNullException.ThrowIfNull(score);
        SupervisionCheck.Temperature(temperature, nameof(temperature), allowZero: true);
        SupervisionCheck.Rate(labelNoise, nameof(labelNoise));
        ArgumentException.ThrowIfNullOrEmpty(name);
        _score = score;
        Temperature = temperature;
        LabelNoise = labelNoise;
        Seed = seed;
        Name = name;
        _random = new Xoshiro256StarStar(seed);
    }

    /// <summary>
    /// A judge model scoring each response by its log-probability under the judge (<see cref="LogProbs.Sequence(IStudent, ResponseBatch)"/>),
    /// optionally divided by the response length. The judge runs without gradients in evaluation mode, its mode
    /// restored afterwards; batches are moved to its device.
    /// </summary>
    /// <param name="judge">The judging student (possibly the policy itself, for self-enhancement). Not owned.</param>
    /// <param name="temperature">τ, finite and at least 0.</param>
    /// <param name="perToken">Score by mean log-probability per response token instead of the sum (removes the length bias of sums).</param>
    /// <param name="labelNoise">Probability in [0, 1] of reversing each judgment.</param>
    /// <param name="seed">Seed of the label-noise stream.</param>
    /// <param name="name">Name used in reports; null derives one from the judge.</param>
    public static ScoringPreferenceSupervisor FromJudge(IStudent judge, double temperature = 1.0, bool perToken = false, double labelNoise = 0, int seed = 0, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(judge);
        return new ScoringPreferenceSupervisor(batch => JudgeScore(judge, batch, perToken), temperature, labelNoise, seed, name ?? $"judge({judge.Name})");
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>The temperature τ of <c>σ((s₁ − s₂) / τ)</c>; 0 for hard judgments.</summary>
    public double Temperature { get; }

    /// <summary>Probability of reversing each judgment.</summary>
    public double LabelNoise { get; }

    /// <summary>Seed of the label-noise stream.</summary>
    public int Seed { get; }

    /// <summary>Restarts the label-noise stream: the next call draws the same reversals as the first call did.</summary>
    public void Reset() => _random = new Xoshiro256StarStar(Seed);

    /// <summary>Per-response scores <c>[B]</c> as the judge sees them (no gradients), on the device of the inputs.</summary>
    /// <param name="responses">The responses to score.</param>
    /// <exception cref="InvalidOperationException">The score function returned the wrong shape.</exception>
    public Tensor Score(ResponseBatch responses)
    {
        ArgumentNullException.ThrowIfNull(responses);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var s = _score(responses);
        SupervisionCheck.Scores(s, responses.Count, $"The score function of {Name}");
        return s.to(responses.Inputs.device).MoveToOuterDisposeScope();
    }

    /// <summary>Probability <c>[B]</c> that each first response is preferred (see the remarks).</summary>
    /// <param name="first">The first responses.</param>
    /// <param name="second">The second responses to the same inputs (same count).</param>
    /// <exception cref="ArgumentException">The batches differ in size.</exception>
    public Tensor Prefer(ResponseBatch first, ResponseBatch second)
    {
        SupervisionCheck.Pair(first, second, nameof(first), nameof(second));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var device = first.Inputs.device;
        var a = _score(first);
        SupervisionCheck.Scores(a, first.Count, $"The score function of {Name}");
        var b = _score(second);
        SupervisionCheck.Scores(b, second.Count, $"The score function of {Name}");
        var margin = a.to_type(ScalarType.Float64).to(device) - b.to_type(ScalarType.Float64).to(device);
        var p = Temperature == 0 ? margin.sign().add(1).mul(0.5) : (margin / Temperature).sigmoid();
        if (LabelNoise > 0)
        {
            int n = (int)first.Count;
            var reverse = new bool[n];
            for (int i = 0; i < n; i++) reverse[i] = _random.NextDouble() < LabelNoise;
            p = where(torch.tensor(reverse, device: device), 1 - p, p);
        }
        return p.to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    private static Tensor JudgeScore(IStudent judge, ResponseBatch batch, bool perToken)
    {
        using var mode = EvaluationMode.Enter(judge);
        var onJudge = batch.To(judge.Device);
        var logp = LogProbs.Sequence(judge, onJudge);
        return perToken ? logp / onJudge.Lengths().clamp_min(1) : logp;
    }
}
