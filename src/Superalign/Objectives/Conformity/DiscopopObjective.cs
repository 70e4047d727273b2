using static Superalign.Objectives.Conformity.ConformityMath;
using static TorchSharp.torch;

namespace Superalign.Objectives.Conformity;

/// <summary>
/// DiscoPOP (Chris Lu et al. 2024, eq. 5), TRL's <c>discopop</c>: the log-ratio-modulated loss discovered by LLM-driven
/// search. With <c>z = β·h</c> and <c>m = σ(z/τ)</c>, the per-pair loss is <c>−logσ(z)·(1 − m) + e^(−z)·m</c>: logistic
/// (DPO) for negative margins, exponential for positive ones. Averaged over the pairs.
/// </summary>
/// <remarks>
/// <para>
/// <c>e^(−z)</c> overflows for very negative z (then <c>m</c> is 0 and the naive product is <c>∞·0 = NaN</c>). This class
/// evaluates the exponential term as <c>exp(−z + logσ(z/τ))</c>, which is exact and, for τ ≤ 1, never exceeds 1; for
/// τ &gt; 1 the term truly grows like <c>e^(|z|(1 − 1/τ))</c> and its exponent is clamped at
/// <see cref="MaxExponent"/> so the loss and its gradient stay finite. <c>1 − m</c> is computed as <c>σ(−z/τ)</c>.
/// </para>
/// <para>Rewards: <c>β·(πc − rc)</c> and <c>β·(πr − rr)</c>, detached.</para>
/// </remarks>
public sealed class DiscopopObjective : IConformityObjective
{
    /// <summary>Largest exponent the exponential term may reach (only τ &gt; 1 can get there).</summary>
    public const double MaxExponent = 50;

    /// <summary>Creates the loss.</summary>
    /// <param name="beta">β, finite and &gt; 0.</param>
    /// <param name="tau">Temperature τ of the modulation <c>σ(z/τ)</c>; finite and &gt; 0 (paper and TRL: 0.05).</param>
    /// <exception cref="ArgumentOutOfRangeException">A parameter is outside its range.</exception>
    public DiscopopObjective(double beta = 0.1, double tau = 0.05)
    {
        Beta = Positive(beta, nameof(beta));
        Tau = Positive(tau, nameof(tau));
    }

    /// <summary>β.</summary>
    public double Beta { get; }

    /// <summary>τ.</summary>
    public double Tau { get; }

    /// <inheritdoc/>
    public string Name => "discopop";

    /// <inheritdoc/>
    public bool RequiresReference => true;

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException">The reference log-probs are missing.</exception>
    public ConformityOutput Compute(PreferenceLogProbs logps)
    {
        using var scope = NewDisposeScope();
        var (cl, rl) = LogRatios(logps);
        var z = Beta * (cl - rl);
        var scaled = z / Tau;
        var logistic = -nn.functional.logsigmoid(z) * (-scaled).sigmoid();
        var exponential = (nn.functional.logsigmoid(scaled) - z).clamp_max(MaxExponent).exp();
        return Result(scope, (logistic + exponential).mean(), Beta * cl, Beta * rl);
    }
}
