using static TorchSharp.torch;

namespace Superalign.Optimization;

/// <summary>
/// A copy of the gradients an updater reads (its flat gradient buffer, or one tensor per parameter), and the in-place
/// operations the conflict-aware step needs on them. The copies belong to the dispose scope they were made in.
/// </summary>
internal sealed class GradientSnapshot
{
    private readonly Tensor?[] _parts;

    private GradientSnapshot(Tensor?[] parts) => _parts = parts;

    /// <summary>Copies <paramref name="gradients"/> (null entries stay null: no gradient, i.e. zero).</summary>
    public static GradientSnapshot Take(IReadOnlyList<Tensor?> gradients)
    {
        using var _ = no_grad();
        return new GradientSnapshot(gradients.Select(g => g?.detach().clone()).ToArray());
    }

    /// <summary>Zeroes the gradients in place, keeping every gradient tensor allocated.</summary>
    public static void ZeroInPlace(IReadOnlyList<Tensor?> gradients)
    {
        using var _ = no_grad();
        foreach (var g in gradients) g?.zero_();
    }

    /// <summary>
    /// (|s|², |g|², s·g) for this snapshot s and the current <paramref name="gradients"/> g, accumulated in double
    /// over the parts (which may differ from one another in dtype and device; a part and its copy never do).
    /// </summary>
    public (double SnapshotSquaredNorm, double CurrentSquaredNorm, double Dot) Inner(IReadOnlyList<Tensor?> gradients)
    {
        CheckParts(gradients);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        double ss = 0, gg = 0, sg = 0;
        for (int i = 0; i < _parts.Length; i++)
        {
            var s = _parts[i]?.reshape(-1);
            var g = gradients[i]?.detach().reshape(-1);
            if (s is null && g is null) continue;
            var products = s is null ? new[] { g!.dot(g) }
                : g is null ? new[] { s.dot(s) }
                : new[] { s.dot(s), g.dot(g), s.dot(g) };
            var v = stack(products).to_type(ScalarType.Float64).cpu().data<double>().ToArray();
            if (s is null) gg += v[0];
            else if (g is null) ss += v[0];
            else { ss += v[0]; gg += v[1]; sg += v[2]; }
        }
        return (ss, gg, sg);
    }

    /// <summary>Writes the snapshot back into <paramref name="gradients"/>, in place (a null part zeroes its gradient).</summary>
    public void CopyInto(IReadOnlyList<Tensor?> gradients)
    {
        CheckParts(gradients);
        using var _ = no_grad();
        for (int i = 0; i < _parts.Length; i++)
        {
            var g = gradients[i];
            if (g is null)
            {
                if (_parts[i] is null) continue;
                throw new InvalidOperationException("A parameter lost its gradient since the snapshot was taken; it cannot be written back.");
            }
            if (_parts[i] is { } s) g.copy_(s);
            else g.zero_();
        }
    }

    /// <summary>Writes a·s + b·g into the current gradients g, in place.</summary>
    /// <exception cref="InvalidOperationException">A parameter had a gradient in the snapshot but has none now.</exception>
    public void CombineInto(IReadOnlyList<Tensor?> gradients, double snapshotCoefficient, double currentCoefficient)
    {
        CheckParts(gradients);
        using var _ = no_grad();
        for (int i = 0; i < _parts.Length; i++)
        {
            var s = _parts[i];
            var g = gradients[i];
            if (g is null)
            {
                if (s is null || snapshotCoefficient == 0) continue;
                throw new InvalidOperationException(
                    "A parameter lost its gradient between the competence and conformity backward passes; the gradients cannot be combined.");
            }
            g.mul_(currentCoefficient);
            if (s is not null) g.add_(s, alpha: snapshotCoefficient);
        }
    }

    private void CheckParts(IReadOnlyList<Tensor?> gradients)
    {
        if (gradients.Count != _parts.Length)
            throw new InvalidOperationException($"The snapshot has {_parts.Length} gradient parts; got {gradients.Count}.");
    }
}
