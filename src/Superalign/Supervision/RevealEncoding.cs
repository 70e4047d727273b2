using TorchSharp;
using static TorchSharp.torch;

namespace Superalign.Supervision;

/// <summary>
/// How a judge that sees only some features reads them: the input is <c>[features ⊙ mask ‖ mask]</c>, twice as wide
/// as the features, so that a hidden feature (value 0, mask 0) differs from a revealed feature whose value is 0
/// (value 0, mask 1), and one classifier can learn from any subset of revealed features.
/// </summary>
/// <remarks>
/// Feature <c>j</c> of a row with <c>D</c> features is column <c>j</c> (its value where revealed, else 0) and column
/// <c>D + j</c> (1 where revealed, else 0) of the encoded row. Example, <c>D = 3</c>: features <c>[2, −1, 5]</c> with
/// features 0 and 2 revealed encode as <c>[2, 0, 5, 1, 0, 1]</c>.
/// </remarks>
public static class RevealEncoding
{
    /// <summary>Width of the encoded input for <paramref name="features"/> features: <c>2 · features</c>.</summary>
    /// <param name="features">Number of features (at least 1).</param>
    public static int Width(int features)
    {
        if (features < 1) throw new ArgumentOutOfRangeException(nameof(features), features, $"{nameof(features)} must be at least 1; got {features}.");
        return 2 * features;
    }

    /// <summary>The judge's input <c>[features ⊙ mask ‖ mask]</c>, <c>[B, 2D]</c> in the features' dtype.</summary>
    /// <param name="features">Features <c>[B, D]</c> (floating).</param>
    /// <param name="mask">Which features are revealed, <c>[B, D]</c>: 1 (or true) = revealed, 0 = hidden.</param>
    /// <exception cref="ArgumentException">The shapes differ or are not <c>[B, D]</c>.</exception>
    public static Tensor Encode(Tensor features, Tensor mask)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(mask);
        if (features.dim() != 2 || !features.is_floating_point())
            throw new ArgumentException($"features must be floating [B, D]; got {features.dtype} [{string.Join(", ", features.shape)}].", nameof(features));
        if (!mask.shape.SequenceEqual(features.shape))
            throw new ArgumentException($"mask must have the shape of features [{string.Join(", ", features.shape)}]; got [{string.Join(", ", mask.shape)}].", nameof(mask));
        using var scope = NewDisposeScope();
        var m = mask.to_type(features.dtype).to(features.device);
        return EncodeUnchecked(features, m).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Random masks <c>[rows, features]</c> (float32, 0/1) with exactly <paramref name="reveals"/> ones per row, each
    /// row's revealed set uniform over the subsets of that size and independent of the other rows.
    /// </summary>
    /// <param name="rows">Number of masks (at least 0).</param>
    /// <param name="features">Features per row (at least 1).</param>
    /// <param name="reveals">Revealed features per row, in <c>[0, features]</c>.</param>
    /// <param name="generator">The random stream (CPU); null draws from the global generator.</param>
    /// <param name="device">Where to put the masks; null = CPU.</param>
    public static Tensor RandomMasks(long rows, int features, int reveals, Generator? generator = null, Device? device = null)
    {
        if (rows < 0) throw new ArgumentOutOfRangeException(nameof(rows), rows, $"{nameof(rows)} must be at least 0; got {rows}.");
        if (features < 1) throw new ArgumentOutOfRangeException(nameof(features), features, $"{nameof(features)} must be at least 1; got {features}.");
        if (reveals < 0 || reveals > features)
            throw new ArgumentOutOfRangeException(nameof(reveals), reveals, $"{nameof(reveals)} must be in [0, {features}]; got {reveals}.");
        using var scope = NewDisposeScope();
        var mask = zeros(new long[] { rows, features }, dtype: ScalarType.Float32);
        if (reveals > 0 && rows > 0)
        {
            // The k largest of D i.i.d. uniforms are a uniformly random k-subset.
            var keys = rand(new long[] { rows, features }, generator: generator);
            var (_, chosen) = keys.topk(reveals, dim: 1);
            mask = mask.scatter(1, chosen, ones(new long[] { rows, reveals }, dtype: ScalarType.Float32));
        }
        if (device is not null) mask = mask.to(device);
        return mask.MoveToOuterDisposeScope();
    }

    /// <summary>Encodes features and a float mask of one dtype and device, with any leading dimensions.</summary>
    internal static Tensor EncodeUnchecked(Tensor features, Tensor mask) => cat(new[] { features * mask, mask }, -1);
}
