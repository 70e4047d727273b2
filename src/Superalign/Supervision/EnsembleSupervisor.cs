using TorchSharp;
using static TorchSharp.torch;

namespace Superalign.Supervision;

/// <summary>How an <see cref="EnsembleSupervisor"/> combines its members' soft labels.</summary>
public enum EnsembleCombination
{
    /// <summary>The mean of the members' soft labels.</summary>
    Mean,

    /// <summary>
    /// One-hot on the class most members choose (by argmax); ties go to the tied class with the highest mean
    /// probability, then to the lowest class id.
    /// </summary>
    MajorityVote,

    /// <summary>
    /// A per-example weighted mean, each member weighted by its confidence on that example
    /// (<see cref="EnsembleSupervisor.Confidence"/>), so that members sure of an example speak louder there.
    /// </summary>
    ConfidenceWeighted,
}

/// <summary>How confident a member is on an example, for <see cref="EnsembleCombination.ConfidenceWeighted"/>.</summary>
public enum ConfidenceMeasure
{
    /// <summary>Its largest class probability, in <c>[1/C, 1]</c>.</summary>
    MaxProbability,

    /// <summary>
    /// One minus its normalised entropy, <c>1 − H(p) / log C</c>, in [0, 1]: 0 for a uniform label, 1 for a one-hot
    /// one. Where every member is uniform (all weights 0) the plain mean is used.
    /// </summary>
    InverseEntropy,
}

/// <summary>How much the members of an ensemble disagree on a batch.</summary>
/// <param name="ArgmaxDisagreement">Fraction of examples on which the members' argmax classes are not all equal.</param>
/// <param name="MeanPairwiseTotalVariation">
/// Mean over examples and member pairs of the total-variation distance <c>½ Σ_c |p_m(c) − p_n(c)|</c>, in [0, 1].
/// </param>
/// <param name="Examples">Number of examples.</param>
public sealed record EnsembleDisagreement(double ArgmaxDisagreement, double MeanPairwiseTotalVariation, long Examples);

/// <summary>
/// Several label supervisors combined into one — diverse weak supervisors, so that the student does not learn a
/// single supervisor's idiosyncratic errors (the paper's second principle; EnsemW2S). Also measures how much the
/// members disagree and gives per-example agreement weights, e.g. to down-weight contested labels in the loss.
/// </summary>
/// <remarks>
/// Every member must return soft labels of one shape <c>[B, C]</c>; they are combined in the first member's dtype
/// on the features' device. The ensemble does not own its members.
/// </remarks>
public sealed class EnsembleSupervisor : ILabelSupervisor
{
    private readonly ILabelSupervisor[] _members;

    // Reductions over the member axis pass an array: TorchSharp's sum(0) binds to sum(ScalarType? type), the literal 0
    // converting to ScalarType.Byte, and would sum every element.
    private static readonly long[] Dim0 = { 0 };

    /// <summary>Combines <paramref name="members"/>.</summary>
    /// <param name="members">At least one label supervisor.</param>
    /// <param name="combination">How to combine their soft labels.</param>
    /// <param name="confidence">The confidence measure of <see cref="EnsembleCombination.ConfidenceWeighted"/>.</param>
    /// <param name="name">Name used in reports; null derives one from the members'.</param>
    /// <exception cref="ArgumentException"><paramref name="members"/> is empty or holds null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An enum argument is not a defined value.</exception>
    public EnsembleSupervisor(IEnumerable<ILabelSupervisor> members, EnsembleCombination combination = EnsembleCombination.Mean,
        ConfidenceMeasure confidence = ConfidenceMeasure.MaxProbability, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(members);
        _members = members.ToArray();
        if (_members.Length == 0)
            throw new ArgumentException("members must hold at least one supervisor.", nameof(members));
        for (int i = 0; i < _members.Length; i++)
            if (_members[i] is null)
                throw new ArgumentException($"members[{i}] is null.", nameof(members));
        if (!Enum.IsDefined(combination))
            throw new ArgumentOutOfRangeException(nameof(combination), combination, $"{nameof(combination)} must be one of {string.Join(", ", Enum.GetNames<EnsembleCombination>())}.");
        if (!Enum.IsDefined(confidence))
            throw new ArgumentOutOfRangeException(nameof(confidence), confidence, $"{nameof(confidence)} must be one of {string.Join(", ", Enum.GetNames<ConfidenceMeasure>())}.");
        Combination = combination;
        Confidence = confidence;
        Name = name ?? $"ensemble[{combination}]({string.Join(", ", _members.Select(m => m.Name))})";
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>The members, in order.</summary>
    public IReadOnlyList<ILabelSupervisor> Members => _members;

    /// <summary>How the soft labels are combined.</summary>
    public EnsembleCombination Combination { get; }

    /// <summary>The confidence measure used by <see cref="EnsembleCombination.ConfidenceWeighted"/>.</summary>
    public ConfidenceMeasure Confidence { get; }

    /// <summary>The combined soft labels <c>[B, C]</c> on the features' device.</summary>
    /// <param name="features">Features <c>[B, F]</c>.</param>
    /// <exception cref="InvalidOperationException">Members return labels of different shapes.</exception>
    public Tensor Label(Tensor features)
    {
        SupervisionCheck.Features(features, nameof(features));
        using var scope = NewDisposeScope();
        return Combine(Stack(features)).MoveToOuterDisposeScope();
    }

    /// <summary>Every member's soft labels, stacked: <c>[M, B, C]</c> on the features' device.</summary>
    /// <param name="features">Features <c>[B, F]</c>.</param>
    public Tensor MemberLabels(Tensor features)
    {
        SupervisionCheck.Features(features, nameof(features));
        using var scope = NewDisposeScope();
        return Stack(features).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The combined labels and, per example, the fraction of members whose argmax equals the combined label's
    /// argmax (<c>[B]</c>, in [0, 1]; 1 where all members agree) — usable as loss weights.
    /// </summary>
    /// <param name="features">Features <c>[B, F]</c>.</param>
    public (Tensor Labels, Tensor AgreementWeights) LabelWithAgreement(Tensor features)
    {
        SupervisionCheck.Features(features, nameof(features));
        using var scope = NewDisposeScope();
        var stacked = Stack(features);
        var labels = Combine(stacked);
        var weights = stacked.argmax(2).eq(labels.argmax(1).unsqueeze(0)).to_type(ScalarType.Float32).mean(Dim0);
        return (labels.MoveToOuterDisposeScope(), weights.MoveToOuterDisposeScope());
    }

    /// <summary>Per-example agreement weights <c>[B]</c>; see <see cref="LabelWithAgreement"/>.</summary>
    /// <param name="features">Features <c>[B, F]</c>.</param>
    public Tensor AgreementWeights(Tensor features)
    {
        var (labels, weights) = LabelWithAgreement(features);
        labels.Dispose();
        return weights;
    }

    /// <summary>How much the members disagree on <paramref name="features"/> (0 and 0 for a single member).</summary>
    /// <param name="features">Features <c>[B, F]</c> with <c>B ≥ 1</c>.</param>
    public EnsembleDisagreement Disagreement(Tensor features)
    {
        SupervisionCheck.Features(features, nameof(features));
        if (features.shape[0] == 0)
            throw new ArgumentException("features must hold at least one example to measure disagreement.", nameof(features));
        using var scope = NewDisposeScope();
        var stacked = Stack(features).to_type(ScalarType.Float64);
        long m = stacked.shape[0], b = stacked.shape[1];
        var votes = stacked.argmax(2);                                     // [M, B]
        double split = votes.ne(votes.select(0, 0).unsqueeze(0)).any(0).to_type(ScalarType.Float64).mean().ToDouble();
        double tv = 0;
        if (m > 1)
        {
            // ½ Σ_c |p_m − p_n| for every ordered pair m ≠ n (each unordered pair twice; the diagonal is 0).
            var diff = (stacked.unsqueeze(0) - stacked.unsqueeze(1)).abs().sum(3).mul(0.5);   // [M, M, B]
            tv = diff.sum().ToDouble() / (m * (m - 1) * b);
        }
        return new EnsembleDisagreement(split, tv, b);
    }

    private Tensor Stack(Tensor features)
    {
        var labels = new Tensor[_members.Length];
        for (int i = 0; i < _members.Length; i++)
        {
            var l = _members[i].Label(features);
            SupervisionCheck.SoftLabels(l, features.shape[0], $"Member {i} ({_members[i].Name})");
            if (i > 0 && l.shape[1] != labels[0].shape[1])
                throw new InvalidOperationException(
                    $"Member {i} ({_members[i].Name}) returned {l.shape[1]} classes, member 0 ({_members[0].Name}) {labels[0].shape[1]}.");
            var dtype = i == 0 ? l.dtype : labels[0].dtype;
            labels[i] = l.to_type(dtype).to(features.device);
        }
        return stack(labels, 0);
    }

    private Tensor Combine(Tensor stacked)
    {
        long classes = stacked.shape[2];
        switch (Combination)
        {
            case EnsembleCombination.Mean:
                return stacked.mean(Dim0);
            case EnsembleCombination.MajorityVote:
            {
                var votes = nn.functional.one_hot(stacked.argmax(2), classes).sum(Dim0).to_type(stacked.dtype); // [B, C]
                // Mean probability ≤ 1, so 0.5·mean breaks ties between equal vote counts without overturning a vote.
                var score = votes + 0.5 * stacked.mean(Dim0);
                return nn.functional.one_hot(score.argmax(1), classes).to_type(stacked.dtype);
            }
            default:
            {
                Tensor weights; // [M, B]
                if (Confidence == ConfidenceMeasure.MaxProbability)
                {
                    weights = stacked.amax(new long[] { 2 });
                }
                else
                {
                    var entropy = -(stacked * stacked.clamp_min(1e-30).log()).sum(2);
                    weights = classes > 1 ? (1 - entropy / Math.Log(classes)).clamp(0, 1) : ones_like(entropy);
                }
                var total = weights.sum(Dim0);                                      // [B]
                var weighted = (weights.unsqueeze(2) * stacked).sum(Dim0) / total.clamp_min(1e-30).unsqueeze(1);
                return where(total.gt(0).unsqueeze(1), weighted, stacked.mean(Dim0));
            }
        }
    }
}
