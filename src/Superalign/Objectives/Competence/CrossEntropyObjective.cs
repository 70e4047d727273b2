using static TorchSharp.torch;

namespace Superalign.Objectives.Competence;

/// <summary>
/// <c>ce</c>: cross-entropy to the hard <see cref="CompetenceInput.Targets"/>, averaged over scored positions, with
/// optional label smoothing ε: <c>(1 − ε)·(−log p_target) + ε·mean_c(−log p_c)</c> (PyTorch's definition).
/// </summary>
/// <remarks>
/// Targets at masked positions are ignored (any padding value is allowed there); targets at scored positions must be
/// valid class or token ids.
/// </remarks>
public sealed class CrossEntropyObjective : ICompetenceObjective
{
    /// <summary>Creates the objective.</summary>
    /// <param name="labelSmoothing">Label smoothing ε in [0, 1); 0 (default) is plain cross-entropy.</param>
    public CrossEntropyObjective(double labelSmoothing = 0) =>
        LabelSmoothing = CompetenceTensors.CheckRange(labelSmoothing, nameof(labelSmoothing), 0, 1, maxInclusive: false);

    /// <summary>Label smoothing ε in [0, 1).</summary>
    public double LabelSmoothing { get; }

    /// <inheritdoc />
    public string Name => "ce";

    /// <inheritdoc />
    public bool RequiresSoftTargets => false;

    /// <inheritdoc />
    public Tensor Loss(CompetenceInput input) => HardLabels.Loss(input, Name, LabelSmoothing);
}

/// <summary>
/// <c>nll</c>: token negative log-likelihood for language models, the mean of <c>−log p(target token)</c> over the
/// response tokens selected by the mask. The same quantity as <see cref="CrossEntropyObjective"/> without smoothing,
/// under the name language-model users look for.
/// </summary>
public sealed class TokenNllObjective : ICompetenceObjective
{
    /// <inheritdoc />
    public string Name => "nll";

    /// <inheritdoc />
    public bool RequiresSoftTargets => false;

    /// <inheritdoc />
    public Tensor Loss(CompetenceInput input) => HardLabels.Loss(input, Name, 0);
}

/// <summary>The masked hard-label cross-entropy behind <c>ce</c> and <c>nll</c>.</summary>
internal static class HardLabels
{
    public static Tensor Loss(CompetenceInput input, string objective, double labelSmoothing)
    {
        var x = CompetenceTensors.Prepare(input, objective, needsSoftTargets: false);
        // Padding at masked positions may hold any id: replace it with the ignore index so it never reaches gather.
        var targets = input.Targets.to_type(ScalarType.Int64).masked_fill(x.Mask == 0, IgnoreIndex);
        var perPosition = nn.functional.cross_entropy(
            x.LogProbs.reshape(x.Batch * x.Positions, x.Classes), targets.reshape(x.Batch * x.Positions),
            ignore_index: IgnoreIndex, reduction: nn.Reduction.None, label_smoothing: labelSmoothing);
        return CompetenceTensors.MaskedMean(perPosition.view(x.Batch, x.Positions), x.Mask);
    }

    private const long IgnoreIndex = -100;
}
