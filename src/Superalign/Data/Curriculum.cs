using Superalign.Checkpoints;
using static TorchSharp.torch;

namespace Superalign.Data;

/// <summary>What each stage of an easy-to-hard <see cref="Curriculum"/> draws from.</summary>
public enum CurriculumPacing
{
    /// <summary>
    /// Stage <c>k</c> (0-based) draws from the <c>k + 1</c> most confident buckets: first the easiest bucket, then the
    /// easiest two, …, the last stage everything ("baby steps"). Nothing seen early is dropped later.
    /// </summary>
    Cumulative,

    /// <summary>Stage <c>k</c> draws only from bucket <c>k</c>: first the easiest bucket, then the next, …, the last stage only the hardest.</summary>
    Partitioned,
}

/// <summary>
/// An easy-to-hard curriculum over a supervisor's labels, ordered by the supervisor's confidence (its largest class
/// probability): the examples are sorted from most to least confident and cut into <c>stages</c> equal buckets
/// (bucket <c>k</c> holds ranks <c>⌊k·N/K⌋ … ⌊(k+1)·N/K⌋ − 1</c>); training is cut into as many equal stages of
/// batches (batch <c>b</c> of <c>T</c> is in stage <c>⌊b·K/T⌋</c>), and each stage draws its batches, in shuffled
/// epochs, from the buckets its <see cref="CurriculumPacing"/> allows. With 3 stages and cumulative pacing the first
/// third of training sees only the most confident third of the examples, the second third the most confident two
/// thirds, the last third all of them.
/// </summary>
public static class Curriculum
{
    /// <summary>The confidence of soft labels: each row's largest probability, <c>[N]</c> → doubles on the CPU.</summary>
    /// <param name="softLabels">Soft labels <c>[N, C]</c>.</param>
    public static double[] Confidence(Tensor softLabels)
    {
        ArgumentNullException.ThrowIfNull(softLabels);
        if (softLabels.dim() != 2 || !softLabels.is_floating_point())
            throw new ArgumentException($"softLabels must be floating [N, C]; got {softLabels.dtype} [{string.Join(", ", softLabels.shape)}].", nameof(softLabels));
        using var scope = NewDisposeScope();
        return softLabels.detach().amax(new long[] { 1 }).to_type(ScalarType.Float64).cpu().data<double>().ToArray();
    }

    /// <summary>Example indices from most to least confident; ties keep the lower index first (a stable sort).</summary>
    /// <param name="confidence">One finite confidence per example.</param>
    /// <exception cref="ArgumentException">Empty, or a value is not finite.</exception>
    public static int[] Order(IReadOnlyList<double> confidence)
    {
        ArgumentNullException.ThrowIfNull(confidence);
        if (confidence.Count == 0) throw new ArgumentException("confidence must hold at least one value.", nameof(confidence));
        for (int i = 0; i < confidence.Count; i++)
            if (!double.IsFinite(confidence[i]))
                throw new ArgumentException($"confidence[{i}] must be finite; got {confidence[i]}.", nameof(confidence));
        return Enumerable.Range(0, confidence.Count).OrderByDescending(i => confidence[i]).ThenBy(i => i).ToArray();
    }

    /// <summary>The stage (0-based) of batch <paramref name="batch"/> out of <paramref name="totalBatches"/>: <c>⌊b·K/T⌋</c>, the last stage after the end.</summary>
    /// <param name="batch">Batch index, from 0.</param>
    /// <param name="totalBatches">Batches of the whole curriculum (at least 1).</param>
    /// <param name="stages">Number of stages (at least 1).</param>
    public static int StageOf(long batch, long totalBatches, int stages)
    {
        Check(totalBatches, stages);
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        return (int)Math.Min(stages - 1, batch * stages / totalBatches);
    }

    /// <summary>The example indices stage <paramref name="stage"/> draws from, most confident first.</summary>
    /// <param name="order">The confidence order (<see cref="Order"/>).</param>
    /// <param name="stage">The stage, 0-based.</param>
    /// <param name="stages">Number of stages (at least 1, at most the number of examples).</param>
    /// <param name="pacing">Cumulative or partitioned buckets.</param>
    public static int[] Pool(IReadOnlyList<int> order, int stage, int stages, CurriculumPacing pacing)
    {
        ArgumentNullException.ThrowIfNull(order);
        Check(1, stages);
        if (stages > order.Count)
            throw new ArgumentOutOfRangeException(nameof(stages), stages, $"stages must be at most the number of examples ({order.Count}); got {stages}.");
        if (stage < 0 || stage >= stages)
            throw new ArgumentOutOfRangeException(nameof(stage), stage, $"stage must be in [0, {stages - 1}]; got {stage}.");
        if (!Enum.IsDefined(pacing))
            throw new ArgumentOutOfRangeException(nameof(pacing), pacing, $"pacing must be one of {string.Join(", ", Enum.GetNames<CurriculumPacing>())}.");
        int n = order.Count;
        int start = pacing == CurriculumPacing.Cumulative ? 0 : (int)((long)stage * n / stages);
        int end = (int)((long)(stage + 1) * n / stages);
        return order.Skip(start).Take(end - start).ToArray();
    }

    private static void Check(long totalBatches, int stages)
    {
        if (totalBatches < 1) throw new ArgumentOutOfRangeException(nameof(totalBatches), totalBatches, $"totalBatches must be at least 1; got {totalBatches}.");
        if (stages < 1) throw new ArgumentOutOfRangeException(nameof(stages), stages, $"stages must be at least 1; got {stages}.");
    }
}

/// <summary>
/// The row indices of a <see cref="Curriculum"/>, batch after batch: shuffled epochs over the current stage's pool,
/// restarting (with a fresh shuffle) when the stage changes; after <c>totalBatches</c> it stays in the last stage.
/// </summary>
internal sealed class CurriculumSampler : IIndexSampler
{
    private readonly int[] _order;
    private readonly int _batchSize;
    private readonly long _totalBatches;
    private readonly int _stages;
    private readonly CurriculumPacing _pacing;
    private readonly int _seed;
    private readonly int _count;
    private EpochSampler? _sampler;
    private int[] _pool = [];
    private long _batch;

    public CurriculumSampler(IReadOnlyList<double> confidence, int batchSize, long totalBatches, int stages, CurriculumPacing pacing, int seed)
    {
        _order = Curriculum.Order(confidence);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, $"batchSize must be at least 1; got {batchSize}.");
        Curriculum.StageOf(0, totalBatches, stages);
        Curriculum.Pool(_order, 0, stages, pacing);
        (_batchSize, _totalBatches, _stages, _pacing, _seed, _count) = (batchSize, totalBatches, stages, pacing, seed, confidence.Count);
        Stage = -1;
    }

    /// <summary>The stage of the batch last drawn (−1 before the first).</summary>
    public int Stage { get; private set; }

    /// <summary>The pool of the current stage.</summary>
    public IReadOnlyList<int> Pool => _pool;

    public long[] NextIndices()
    {
        int stage = Curriculum.StageOf(_batch, _totalBatches, _stages);
        if (stage != Stage || _sampler is null)
        {
            Stage = stage;
            (_pool, _sampler) = StageSampler(stage);
        }
        _batch++;
        var local = _sampler.NextIndices();
        var indices = new long[local.Length];
        for (int i = 0; i < local.Length; i++) indices[i] = _pool[local[i]];
        return indices;
    }

    private (int[] Pool, EpochSampler Sampler) StageSampler(int stage)
    {
        var pool = Curriculum.Pool(_order, stage, _stages, _pacing);
        return (pool, new EpochSampler(pool.Length, _batchSize, shuffle: true, dropLast: false, seed: unchecked(_seed * 31 + stage)));
    }

    public void SaveState(CheckpointWriter writer)
    {
        writer.Write("kind", "curriculum");
        writer.Write("count", _count);
        writer.Write("batch-size", _batchSize);
        writer.Write("total-batches", _totalBatches);
        writer.Write("stages", _stages);
        writer.Write("pacing", (long)_pacing);
        writer.Write("seed", _seed);
        writer.Write("batch", _batch);
        writer.Write("stage", Stage);
        _sampler?.SaveState(writer.Section("stage-sampler"));
    }

    public Action PrepareRestore(CheckpointReader reader)
    {
        Sampling.CheckKind(reader, "curriculum");
        Sampling.CheckSame(reader, "count", _count);
        Sampling.CheckSame(reader, "batch-size", _batchSize);
        Sampling.CheckSame(reader, "total-batches", _totalBatches);
        Sampling.CheckSame(reader, "stages", _stages);
        Sampling.CheckSame(reader, "pacing", (long)_pacing);
        Sampling.CheckSame(reader, "seed", _seed);
        long batch = reader.ReadInt64("batch", 0, long.MaxValue);
        int stage = (int)reader.ReadInt64("stage", -1, _stages - 1);
        if ((stage >= 0) != reader.HasSection("stage-sampler"))
            throw reader.Invalid("stage", "the stage and the stage's sampler state disagree (the checkpoint is inconsistent).");
        if (stage < 0) return () => (_batch, Stage, _pool, _sampler) = (batch, stage, [], null);
        var (pool, sampler) = StageSampler(stage);
        sampler.PrepareRestore(reader.Section("stage-sampler"))();
        return () => (_batch, Stage, _pool, _sampler) = (batch, stage, pool, sampler);
    }
}
