using MathNet.Numerics.Random;
using TorchSharp;
using static TorchSharp.torch;

namespace Superalign.Supervision;

/// <summary>
/// A labeler that makes mistakes: it wraps another label supervisor and flips each example's label to another class
/// at a given rate — uniformly (symmetric noise), per true class, or by a full class-transition matrix
/// (class-dependent noise).
/// </summary>
/// <remarks>
/// <para><b>What a flip does.</b> The clean class of an example is the argmax of the inner supervisor's soft label.
/// The noisy class <c>j</c> is drawn from row <c>i</c> of the transition matrix <c>T</c>
/// (<c>T[i, j] = P(noisy = j | clean = i)</c>). A flip from <c>i</c> to <c>j</c> swaps the probabilities of the two
/// classes in the row: a one-hot label becomes one-hot in <c>j</c>, and a soft label keeps its confidence profile
/// with its mode moved to <c>j</c>. Rows still sum to 1.</para>
/// <para><b>Determinism.</b> Draws come from a seeded stream on the CPU, one uniform per example in batch order, so
/// a given seed and sequence of calls gives the same flips on every device. Successive calls continue the stream
/// (relabeling the same features gives fresh noise); <see cref="Reset"/> restarts it. Not thread-safe.</para>
/// </remarks>
public sealed class NoisySupervisor : ILabelSupervisor
{
    private readonly double? _flipRate;
    private readonly double[]? _perClassFlipRates;
    private readonly double[,]? _transition;
    private Xoshiro256StarStar _random;

    /// <summary>Symmetric noise: each label is flipped with probability <paramref name="flipRate"/> to a uniformly chosen other class.</summary>
    /// <param name="inner">The clean supervisor.</param>
    /// <param name="flipRate">Flip probability in [0, 1].</param>
    /// <param name="seed">Seed of the noise stream.</param>
    /// <param name="name">Name used in reports; null derives one.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="flipRate"/> is outside [0, 1].</exception>
    public NoisySupervisor(ILabelSupervisor inner, double flipRate, int seed = 0, string? name = null)
        : this(inner, seed, name ?? $"noisy({inner?.Name}, {flipRate:G3})")
    {
        SupervisionCheck.Rate(flipRate, nameof(flipRate));
        _flipRate = flipRate;
    }

    /// <summary>
    /// Class-dependent flip rates: a label of true class <c>i</c> is flipped with probability
    /// <c>perClassFlipRates[i]</c> to a uniformly chosen other class.
    /// </summary>
    /// <param name="inner">The clean supervisor.</param>
    /// <param name="perClassFlipRates">One rate in [0, 1] per class (at least 2 classes).</param>
    /// <param name="seed">Seed of the noise stream.</param>
    /// <param name="name">Name used in reports; null derives one.</param>
    /// <exception cref="ArgumentException">Fewer than 2 rates, or a rate outside [0, 1].</exception>
    public NoisySupervisor(ILabelSupervisor inner, double[] perClassFlipRates, int seed = 0, string? name = null)
        : this(inner, seed, name ?? $"noisy({inner?.Name}, per-class)")
    {
        ArgumentNullException.ThrowIfNull(perClassFlipRates);
        if (perClassFlipRates.Length < 2)
            throw new ArgumentException($"{nameof(perClassFlipRates)} must hold one rate per class (at least 2); got {perClassFlipRates.Length}.", nameof(perClassFlipRates));
        for (int i = 0; i < perClassFlipRates.Length; i++)
            if (!(perClassFlipRates[i] >= 0 && perClassFlipRates[i] <= 1))
                throw new ArgumentOutOfRangeException(nameof(perClassFlipRates), perClassFlipRates[i], $"{nameof(perClassFlipRates)}[{i}] must be in [0, 1]; got {perClassFlipRates[i]}.");
        _perClassFlipRates = (double[])perClassFlipRates.Clone();
    }

    /// <summary>
    /// Noise by a class-transition matrix: <c>transition[i, j]</c> is the probability that a label of true class
    /// <c>i</c> becomes <c>j</c> (the diagonal keeps it).
    /// </summary>
    /// <param name="inner">The clean supervisor.</param>
    /// <param name="transition">A square K×K row-stochastic matrix (K ≥ 2, entries in [0, 1], rows summing to 1 within 1e-9).</param>
    /// <param name="seed">Seed of the noise stream.</param>
    /// <param name="name">Name used in reports; null derives one.</param>
    /// <exception cref="ArgumentException"><paramref name="transition"/> is not a square row-stochastic matrix.</exception>
    public NoisySupervisor(ILabelSupervisor inner, double[,] transition, int seed = 0, string? name = null)
        : this(inner, seed, name ?? $"noisy({inner?.Name}, transition)")
    {
        ArgumentNullException.ThrowIfNull(transition);
        int k = transition.GetLength(0);
        if (k < 2 || transition.GetLength(1) != k)
            throw new ArgumentException($"{nameof(transition)} must be a square K×K matrix with K ≥ 2; got {k}×{transition.GetLength(1)}.", nameof(transition));
        for (int i = 0; i < k; i++)
        {
            double sum = 0;
            for (int j = 0; j < k; j++)
            {
                double p = transition[i, j];
                if (!(p >= 0 && p <= 1))
                    throw new ArgumentOutOfRangeException(nameof(transition), p, $"{nameof(transition)}[{i}, {j}] must be in [0, 1]; got {p}.");
                sum += p;
            }
            if (Math.Abs(sum - 1) > 1e-9)
                throw new ArgumentException($"Row {i} of {nameof(transition)} must sum to 1; it sums to {sum:R}.", nameof(transition));
        }
        _transition = (double[,])transition.Clone();
    }

    private NoisySupervisor(ILabelSupervisor inner, int seed, string name)
    {
        ArgumentNullException.ThrowIfNull(inner);
        Inner = inner;
        Seed = seed;
        Name = name;
        _random = new Xoshiro256StarStar(seed);
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>The clean supervisor whose labels are corrupted.</summary>
    public ILabelSupervisor Inner { get; }

    /// <summary>Seed of the noise stream.</summary>
    public int Seed { get; }

    /// <summary>Restarts the noise stream: the next call draws the same flips as the first call did.</summary>
    public void Reset() => _random = new Xoshiro256StarStar(Seed);

    /// <summary>The effective transition matrix for <paramref name="classes"/> classes (<c>[i, j] = P(noisy j | clean i)</c>).</summary>
    /// <param name="classes">Number of classes (at least 2; must match a per-class or matrix specification).</param>
    /// <exception cref="ArgumentException"><paramref name="classes"/> does not match how the noise was specified.</exception>
    public double[,] TransitionMatrix(int classes)
    {
        if (classes < 2)
            throw new ArgumentOutOfRangeException(nameof(classes), classes, $"{nameof(classes)} must be at least 2; got {classes}.");
        if (_transition is not null)
        {
            if (_transition.GetLength(0) != classes)
                throw new ArgumentException($"The transition matrix of {Name} is {_transition.GetLength(0)}×{_transition.GetLength(0)}, but there are {classes} classes.", nameof(classes));
            return (double[,])_transition.Clone();
        }
        if (_perClassFlipRates is not null && _perClassFlipRates.Length != classes)
            throw new ArgumentException($"{Name} has {_perClassFlipRates.Length} per-class flip rates, but there are {classes} classes.", nameof(classes));
        var t = new double[classes, classes];
        for (int i = 0; i < classes; i++)
        {
            double rate = _perClassFlipRates?[i] ?? _flipRate!.Value;
            for (int j = 0; j < classes; j++) t[i, j] = i == j ? 1 - rate : rate / (classes - 1);
        }
        return t;
    }

    /// <summary>The inner supervisor's soft labels with flipped rows (see the remarks), on the features' device.</summary>
    /// <param name="features">Features <c>[B, F]</c>.</param>
    /// <exception cref="InvalidOperationException">The inner supervisor's class count does not match the noise specification.</exception>
    public Tensor Label(Tensor features)
    {
        SupervisionCheck.Features(features, nameof(features));
        using var scope = NewDisposeScope();
        var soft = Inner.Label(features);
        SupervisionCheck.SoftLabels(soft, features.shape[0], $"The inner supervisor {Inner.Name}");
        int batch = (int)soft.shape[0], classes = (int)soft.shape[1];
        if (classes < 2) return soft.MoveToOuterDisposeScope();
        double[,] t;
        try
        {
            t = TransitionMatrix(classes);
        }
        catch (ArgumentException e)
        {
            throw new InvalidOperationException($"The inner supervisor {Inner.Name} returned {classes} classes: {e.Message}", e);
        }

        var clean = soft.detach().argmax(1).cpu().data<long>().ToArray();
        var index = new long[batch * classes];
        for (int b = 0; b < batch; b++)
        {
            int i = (int)clean[b];
            int j = Draw(t, i, _random.NextDouble());
            for (int c = 0; c < classes; c++) index[b * classes + c] = c;
            index[b * classes + i] = j;
            index[b * classes + j] = i;
        }
        var gather = torch.tensor(index, new long[] { batch, classes }, device: soft.device);
        return soft.gather(1, gather).MoveToOuterDisposeScope();
    }

    /// <summary>The class whose cumulative transition probability first exceeds <paramref name="u"/>.</summary>
    private static int Draw(double[,] t, int row, double u)
    {
        int classes = t.GetLength(1);
        double cumulative = 0;
        int last = row;
        for (int j = 0; j < classes; j++)
        {
            if (t[row, j] <= 0) continue;
            cumulative += t[row, j];
            last = j;
            if (u < cumulative) return j;
        }
        return last; // u beyond the (rounded) row sum: the last class with mass
    }
}
