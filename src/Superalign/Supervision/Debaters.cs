using MathNet.Numerics.Random;
using TorchSharp;
using static TorchSharp.torch;

namespace Superalign.Supervision;

/// <summary>
/// A participant in an oversight session who sees every feature and, at its turn, reveals one more feature to the
/// judge to argue for a class (its claim). Implement it to plug your own debater (a model, a search, a heuristic) into
/// a <see cref="DebateJudge"/>.
/// </summary>
public interface IDebater
{
    /// <summary>Human-readable name, used in reports.</summary>
    string Name { get; }

    /// <summary>
    /// The feature each row reveals next: an index <c>[B]</c> (int64) of a feature that is not yet revealed in that row.
    /// </summary>
    /// <param name="features">All features <c>[B, D]</c> (the debater sees them all).</param>
    /// <param name="revealed">What the judge has seen so far, <c>[B, D]</c> float 0/1; every row has a hidden feature.</param>
    /// <param name="claims">The class each row argues for, <c>[B]</c> (int64).</param>
    Tensor Choose(Tensor features, Tensor revealed, Tensor claims);
}

/// <summary>
/// A debater that queries the judge and reveals, greedily, the hidden feature that most raises the judge's probability
/// of its claim: <c>argmax_j p_judge(claim | revealed ∪ {j})</c> over the hidden features <c>j</c> (one step of
/// look-ahead, as the debaters of Irving et al. 2018 without their tree search). Ties go to the lowest feature index.
/// </summary>
/// <remarks>
/// The judge reads <see cref="RevealEncoding"/> inputs <c>[B, 2D]</c>. Every candidate of a row is scored in one batched
/// forward pass (<c>B · D</c> rows, in chunks of at most <see cref="MaxCandidateRows"/>), without gradients and in
/// evaluation mode (the judge's mode is restored). The debater does not own the judge.
/// </remarks>
public sealed class GreedyDebater : IDebater
{
    /// <summary>Most candidate rows (examples × features) scored in one forward pass.</summary>
    public const int MaxCandidateRows = 65536;

    /// <summary>A greedy debater querying <paramref name="judge"/>.</summary>
    /// <param name="judge">The judge, a classifier over <see cref="RevealEncoding"/> inputs (even input width).</param>
    /// <param name="name">Name used in reports.</param>
    /// <exception cref="ArgumentException">The judge's input width is odd.</exception>
    public GreedyDebater(IClassifierStudent judge, string name = "greedy")
    {
        ArgumentNullException.ThrowIfNull(judge);
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (judge.InputFeatures % 2 != 0)
            throw new ArgumentException($"The judge must read [masked features ‖ mask] inputs of even width; its width is {judge.InputFeatures}.", nameof(judge));
        Judge = judge;
        Name = name;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>The judge the debater queries.</summary>
    public IClassifierStudent Judge { get; }

    /// <inheritdoc />
    public Tensor Choose(Tensor features, Tensor revealed, Tensor claims)
    {
        using var scope = NewDisposeScope();
        return CandidateLogProbabilities(features, revealed, claims).argmax(1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// For every row and feature <c>j</c>, the judge's log-probability of the row's claim if <c>j</c> were revealed
    /// next, <c>[B, D]</c> (float32, on the features' device); −∞ where <c>j</c> is already revealed.
    /// </summary>
    /// <param name="features">All features <c>[B, D]</c>.</param>
    /// <param name="revealed">Revealed so far, <c>[B, D]</c> (0/1).</param>
    /// <param name="claims">Claimed classes <c>[B]</c>.</param>
    /// <exception cref="ArgumentException">Shapes disagree with each other or with the judge.</exception>
    public Tensor CandidateLogProbabilities(Tensor features, Tensor revealed, Tensor claims)
    {
        int d = Judge.InputFeatures / 2;
        DebateCheck.Session(features, revealed, claims, d, Judge.Classes);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var mode = EvaluationMode.Enter(Judge);
        var device = Judge.Device;
        var x = features.to(device).to_type(ScalarType.Float32);
        var seen = revealed.to(device).to_type(ScalarType.Float32);
        var claim = claims.to(device).to_type(ScalarType.Int64);
        var eye = torch.eye(d, dtype: ScalarType.Float32, device: device).unsqueeze(0);   // [1, D, D]: candidate j reveals j
        long b = x.shape[0];
        long chunk = Math.Max(1, MaxCandidateRows / d);
        var parts = new List<Tensor>();
        for (long start = 0; start < b; start += chunk)
        {
            long n = Math.Min(chunk, b - start);
            var xs = x.narrow(0, start, n);
            var candidates = (seen.narrow(0, start, n).unsqueeze(1) + eye).clamp_max(1);        // [n, D, D]
            var inputs = RevealEncoding.EncodeUnchecked(xs.unsqueeze(1).expand(n, d, d), candidates);
            var logp = Judge.ClassLogits(inputs.reshape(n * d, 2 * d)).log_softmax(1).reshape(n, d, Judge.Classes);
            var index = claim.narrow(0, start, n).view(n, 1, 1).expand(n, d, 1);
            parts.Add(logp.gather(2, index).squeeze(2));
        }
        var scores = (parts.Count == 1 ? parts[0] : cat(parts, 0)).to_type(ScalarType.Float32);
        scores = scores.masked_fill(seen.gt(0.5), float.NegativeInfinity);
        return scores.to(features.device).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Reveals a hidden feature chosen uniformly at random, whatever the claim: the "no help" baseline, in which the
/// judge sees <c>k</c> random features. Draws from a seeded stream on the CPU (successive calls continue it;
/// <see cref="Reset"/> restarts it). Not thread-safe.
/// </summary>
public sealed class RandomRevealer : IDebater
{
    private Xoshiro256StarStar _random;

    /// <summary>A revealer drawing from a stream seeded with <paramref name="seed"/>.</summary>
    /// <param name="seed">Seed of the random stream.</param>
    /// <param name="name">Name used in reports.</param>
    public RandomRevealer(int seed = 0, string name = "random")
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Seed = seed;
        Name = name;
        _random = new Xoshiro256StarStar(seed);
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>Seed of the random stream.</summary>
    public int Seed { get; }

    /// <summary>Restarts the random stream.</summary>
    public void Reset() => _random = new Xoshiro256StarStar(Seed);

    /// <inheritdoc />
    public Tensor Choose(Tensor features, Tensor revealed, Tensor claims)
    {
        ArgumentNullException.ThrowIfNull(features);
        DebateCheck.Session(features, revealed, claims, features.dim() == 2 ? features.shape[1] : -1, null);
        using var scope = NewDisposeScope();
        long b = features.shape[0], d = features.shape[1];
        var keys = new float[b * d];
        for (long i = 0; i < keys.Length; i++) keys[i] = (float)_random.NextDouble();
        var scores = tensor(keys, new long[] { b, d }).masked_fill(revealed.cpu().gt(0.5), float.NegativeInfinity);
        return scores.argmax(1).to(features.device).MoveToOuterDisposeScope();
    }
}

/// <summary>Argument checks of the debaters and the debate judge; errors name the parameter.</summary>
internal static class DebateCheck
{
    public static void Session(Tensor? features, Tensor? revealed, Tensor? claims, long width, long? classes)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(revealed);
        ArgumentNullException.ThrowIfNull(claims);
        if (features.dim() != 2 || features.shape[1] != width)
            throw new ArgumentException($"features must have shape [B, {width}]; got [{string.Join(", ", features.shape)}].", nameof(features));
        if (!revealed.shape.SequenceEqual(features.shape))
            throw new ArgumentException($"revealed must have the shape of features [{string.Join(", ", features.shape)}]; got [{string.Join(", ", revealed.shape)}].", nameof(revealed));
        if (claims.dim() != 1 || claims.shape[0] != features.shape[0] || claims.is_floating_point())
            throw new ArgumentException($"claims must hold integer class ids [{features.shape[0]}]; got {claims.dtype} [{string.Join(", ", claims.shape)}].", nameof(claims));
        if (classes is { } c && claims.numel() > 0 && (claims.min().ToInt64() < 0 || claims.max().ToInt64() >= c))
            throw new ArgumentException($"claims must be class ids in [0, {c}).", nameof(claims));
    }
}
