using static Superalign.Objectives.Conformity.ConformityMath;
using static TorchSharp.torch;

namespace Superalign.Objectives.Conformity;

/// <summary>
/// Odds Ratio Preference Optimization (Hong et al. 2024), reference-free:
/// <c>NLL(chosen) − λ·mean[logσ(logodds(yc) − logodds(yr))]</c>, where <c>ℓ = π/|y|</c> is the length-averaged
/// log-prob, <c>logodds(y) = ℓ − log(1 − e^ℓ)</c> and <c>NLL(chosen) = mean over pairs of −ℓc</c>.
/// </summary>
/// <remarks>
/// <para>
/// <c>log(1 − e^ℓ)</c> is computed with a stable log1mexp (<c>log(−expm1(ℓ))</c> for ℓ &gt; −ln 2,
/// <c>log1p(−e^ℓ)</c> otherwise). ℓ = 0 (a response of probability 1) has infinite log odds, so inside the log odds ℓ
/// is clamped to at most −1e-6; the loss and its gradients stay finite for any input, and the clamp only acts where
/// the model already assigns the response a per-token probability above 0.999999.
/// </para>
/// <para>
/// NLL convention: the mean per-token NLL of each chosen response, pairs weighted equally (TRL averages over all
/// chosen tokens of the batch instead; the two agree for equal lengths and for classifiers).
/// </para>
/// <para>
/// λ is what TRL's ORPO trainer calls <c>beta</c>. Rewards (TRL's convention): <c>λ·ℓc</c> and <c>λ·ℓr</c>, detached.
/// </para>
/// </remarks>
public sealed class OrpoObjective : IConformityObjective
{
    /// <summary>Creates the loss.</summary>
    /// <param name="lambda">Weight λ of the odds-ratio term (TRL's <c>beta</c>), finite and &gt; 0.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="lambda"/> is outside its range.</exception>
    public OrpoObjective(double lambda = 0.1) => Lambda = Positive(lambda, nameof(lambda));

    /// <summary>λ.</summary>
    public double Lambda { get; }

    /// <inheritdoc/>
    public string Name => "orpo";

    /// <inheritdoc/>
    public bool RequiresReference => false;

    /// <inheritdoc/>
    public ConformityOutput Compute(PreferenceLogProbs logps)
    {
        using var scope = NewDisposeScope();
        CheckShapes(logps);
        var lc = logps.PolicyChosen / Lengths(logps.ChosenLengths, logps.PolicyChosen);
        var lr = logps.PolicyRejected / Lengths(logps.RejectedLengths, logps.PolicyRejected);
        var logOddsRatio = LogOdds(lc) - LogOdds(lr);
        var loss = (-lc).mean() - Lambda * nn.functional.logsigmoid(logOddsRatio).mean();
        return Result(scope, loss, Lambda * lc, Lambda * lr);
    }

    private static Tensor LogOdds(Tensor meanLogProb)
    {
        var l = meanLogProb.clamp_max(MaxMeanLogProb);
        return l - Log1mExp(l);
    }
}
