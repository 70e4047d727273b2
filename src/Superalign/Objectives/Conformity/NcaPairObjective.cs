using static Superalign.Objectives.Conformity.ConformityMath;
using static TorchSharp.torch;

namespace Superalign.Objectives.Conformity;

/// <summary>
/// NCA for pairs (Chen et al. 2024), TRL's <c>nca_pair</c>: <c>−logσ(β·cl) − ½·logσ(−β·cl) − ½·logσ(−β·rl)</c> with
/// <c>cl = πc − rc</c>, <c>rl = πr − rr</c>, averaged over the pairs. Unlike DPO it pushes the chosen likelihood up in
/// absolute terms, not only relative to the rejected one. At policy = reference the loss is <c>2 ln 2</c>.
/// </summary>
/// <remarks>Rewards: <c>β·cl</c> and <c>β·rl</c>, detached.</remarks>
public sealed class NcaPairObjective : IConformityObjective
{
    /// <summary>Creates the loss.</summary>
    /// <param name="beta">β, finite and &gt; 0.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="beta"/> is outside its range.</exception>
    public NcaPairObjective(double beta = 0.1) => Beta = Positive(beta, nameof(beta));

    /// <summary>β.</summary>
    public double Beta { get; }

    /// <inheritdoc/>
    public string Name => "nca_pair";

    /// <inheritdoc/>
    public bool RequiresReference => true;

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException">The reference log-probs are missing.</exception>
    public ConformityOutput Compute(PreferenceLogProbs logps)
    {
        using var scope = NewDisposeScope();
        var (cl, rl) = LogRatios(logps);
        var c = Beta * cl;
        var r = Beta * rl;
        var perPair = -nn.functional.logsigmoid(c) - 0.5 * nn.functional.logsigmoid(-c) - 0.5 * nn.functional.logsigmoid(-r);
        return Result(scope, perPair.mean(), c, r);
    }
}
