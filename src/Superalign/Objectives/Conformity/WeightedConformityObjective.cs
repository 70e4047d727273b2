using System.Globalization;
using static TorchSharp.torch;

namespace Superalign.Objectives.Conformity;

/// <summary>
/// A weighted sum of conformity objectives, <c>Σᵢ wᵢ·Lᵢ</c> — for instance DPO plus a little IPO, or RPO-style
/// preference plus likelihood terms. Named after its parts, e.g. <c>sigmoid+0.5*ipo</c> (a weight of 1 is not written).
/// </summary>
/// <remarks>
/// The rewards reported are those of the <b>first</b> component (put the objective whose rewards you want in the TRL
/// metrics first); the other components' rewards are discarded. <see cref="RequiresReference"/> is true when any
/// component needs the reference. Every component is evaluated, including those of weight 0.
/// </remarks>
public sealed class WeightedConformityObjective : IConformityObjective
{
    private readonly (IConformityObjective Objective, double Weight)[] _components;

    /// <summary>Creates the weighted sum.</summary>
    /// <param name="components">The objectives and their weights; at least one. Weights must be finite and &gt;= 0,
    /// and not all zero.</param>
    /// <exception cref="ArgumentNullException"><paramref name="components"/> or one of its objectives is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="components"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A weight is negative or not finite, or all weights are zero.</exception>
    public WeightedConformityObjective(params IReadOnlyList<(IConformityObjective Objective, double Weight)> components)
    {
        ArgumentNullException.ThrowIfNull(components);
        if (components.Count == 0) throw new ArgumentException("At least one component objective is needed.", nameof(components));
        for (int i = 0; i < components.Count; i++)
        {
            var (objective, weight) = components[i];
            if (objective is null) throw new ArgumentNullException(nameof(components), $"Component {i} has a null objective.");
            if (!(double.IsFinite(weight) && weight >= 0))
                throw new ArgumentOutOfRangeException(nameof(components), weight, $"The weight of component {i} ('{objective.Name}') must be finite and >= 0; got {weight.ToString("R", CultureInfo.InvariantCulture)}.");
        }
        if (components.All(c => c.Weight == 0))
            throw new ArgumentOutOfRangeException(nameof(components), "At least one weight must be > 0.");
        _components = components.ToArray();
        Name = string.Join("+", _components.Select(c =>
            c.Weight == 1 ? c.Objective.Name : $"{c.Weight.ToString("R", CultureInfo.InvariantCulture)}*{c.Objective.Name}"));
        RequiresReference = _components.Any(c => c.Objective.RequiresReference);
    }

    /// <summary>The component objectives and their weights, in order.</summary>
    public IReadOnlyList<(IConformityObjective Objective, double Weight)> Components => _components;

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public bool RequiresReference { get; }

    /// <inheritdoc/>
    /// <remarks>Rewards are those of the first component.</remarks>
    /// <exception cref="InvalidOperationException">A component needs reference log-probs and they are missing.</exception>
    public ConformityOutput Compute(PreferenceLogProbs logps)
    {
        using var scope = NewDisposeScope();
        ConformityOutput? first = null;
        Tensor? total = null;
        foreach (var (objective, weight) in _components)
        {
            var part = objective.Compute(logps);
            first ??= part;
            var weighted = weight == 1 ? part.Loss : part.Loss * weight;
            total = total is null ? weighted : total + weighted;
        }
        return ConformityMath.Result(scope, total!, first!.ChosenRewards, first.RejectedRewards);
    }
}
