using static TorchSharp.torch;

namespace Superalign.Data;

/// <summary>
/// Per-column standardisation of features, <c>z = (x − μ) / σ</c>, with μ and σ fitted on one set (the training split)
/// and applied unchanged to others (the test split), so that no test statistic leaks into training.
/// </summary>
/// <remarks>
/// μ is the column mean and σ the population standard deviation (divisor N, so the fitted set gets mean 0 and
/// population variance 1 in every column), both computed in float64. A constant column (σ = 0, or σ ≤ 1e-12·max(1, |μ|)
/// from rounding) gets σ = 1: it becomes <c>x − μ</c>, 0 on the fitted set, rather than a division by zero.
/// </remarks>
public sealed class FeatureStandardizer
{
    private FeatureStandardizer(double[] mean, double[] scale)
    {
        Mean = mean;
        Scale = scale;
    }

    /// <summary>The fitted column means μ.</summary>
    public IReadOnlyList<double> Mean { get; }

    /// <summary>The fitted column scales σ (1 for constant columns).</summary>
    public IReadOnlyList<double> Scale { get; }

    /// <summary>Fits μ and σ on <paramref name="features"/> <c>[N, F]</c> (N ≥ 1, finite values).</summary>
    /// <exception cref="ArgumentException">The tensor is not <c>[N, F]</c> with N ≥ 1, or holds a non-finite value.</exception>
    public static FeatureStandardizer Fit(Tensor features)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (features.dim() != 2 || features.shape[0] < 1)
            throw new ArgumentException($"features must have shape [N, F] with N >= 1; got [{string.Join(", ", features.shape)}].", nameof(features));
        using var scope = NewDisposeScope();
        var x = features.detach().to_type(ScalarType.Float64).cpu();
        if (!x.isfinite().all().item<bool>()) throw new ArgumentException("features hold a NaN or an infinity; standardisation needs finite values.", nameof(features));
        var mean = x.mean([0]);
        var std = (x - mean).square().mean([0]).sqrt();
        var mu = mean.data<double>().ToArray();
        var sigma = std.data<double>().ToArray();
        for (int j = 0; j < sigma.Length; j++)
            if (sigma[j] <= 1e-12 * Math.Max(1, Math.Abs(mu[j]))) sigma[j] = 1;
        return new FeatureStandardizer(mu, sigma);
    }

    /// <summary>Fits on the features of <paramref name="table"/>.</summary>
    public static FeatureStandardizer Fit(ClassificationTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        return Fit(table.Features);
    }

    /// <summary><c>(x − μ) / σ</c> of <paramref name="features"/> <c>[M, F]</c>, in their dtype and on their device.</summary>
    /// <exception cref="ArgumentException">The width differs from the fitted one.</exception>
    public Tensor Transform(Tensor features)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (features.dim() != 2 || features.shape[1] != Mean.Count)
            throw new ArgumentException($"features must have shape [M, {Mean.Count}] like the fitted set; got [{string.Join(", ", features.shape)}].", nameof(features));
        using var scope = NewDisposeScope();
        var mu = tensor(Mean.ToArray(), device: features.device);
        var sigma = tensor(Scale.ToArray(), device: features.device);
        return ((features.to_type(ScalarType.Float64) - mu) / sigma).to_type(features.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>The table with standardised features (labels, names and class count kept).</summary>
    public ClassificationTable Transform(ClassificationTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        return table with { Features = Transform(table.Features) };
    }
}
