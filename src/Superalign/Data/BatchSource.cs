using Superalign.Checkpoints;

namespace Superalign.Data;

/// <summary>
/// An endless supply of batches for the optimizer, which pulls as many as each step needs. Implement
/// <see cref="ICheckpointable"/> too (its position and random state) so that a run resumed from a checkpoint draws the
/// same batches as an uninterrupted one; the sources of this library do.
/// </summary>
public interface IBatchSource<out T>
{
    /// <summary>The next batch.</summary>
    T Next();
}

/// <summary>Batch sources over in-memory collections.</summary>
public static class BatchSource
{
    /// <summary>Cycles through <paramref name="batches"/> in order, forever. Checkpointable (its position).</summary>
    public static IBatchSource<T> Cycle<T>(IReadOnlyList<T> batches) => new CycleSource<T>(batches);

    /// <summary>
    /// Calls <paramref name="next"/> for every batch. Not checkpointable (a function's state cannot be saved): for a
    /// resumable run, implement <see cref="IBatchSource{T}"/> and <see cref="ICheckpointable"/> yourself.
    /// </summary>
    public static IBatchSource<T> From<T>(Func<T> next) => new FuncSource<T>(next);

    /// <summary>Batches made by <paramref name="select"/> from the indices <paramref name="sampler"/> draws; checkpointable.</summary>
    internal static IBatchSource<T> Sampled<T>(IIndexSampler sampler, Func<long[], T> select) => new SampledSource<T>(sampler, select);

    private sealed class SampledSource<T>(IIndexSampler sampler, Func<long[], T> select) : IBatchSource<T>, ICheckpointable
    {
        public T Next() => select(sampler.NextIndices());

        public void SaveState(CheckpointWriter writer) => sampler.SaveState(writer);

        public Action PrepareRestore(CheckpointReader reader) => sampler.PrepareRestore(reader);
    }

    private sealed class CycleSource<T> : IBatchSource<T>, ICheckpointable
    {
        private readonly IReadOnlyList<T> _batches;
        private int _index;

        public CycleSource(IReadOnlyList<T> batches)
        {
            ArgumentNullException.ThrowIfNull(batches);
            if (batches.Count == 0) throw new ArgumentException("At least one batch is needed.", nameof(batches));
            _batches = batches;
        }

        public T Next()
        {
            var batch = _batches[_index];
            _index = (_index + 1) % _batches.Count;
            return batch;
        }

        public void SaveState(CheckpointWriter writer)
        {
            writer.Write("kind", "cycle");
            writer.Write("count", _batches.Count);
            writer.Write("index", _index);
        }

        public Action PrepareRestore(CheckpointReader reader)
        {
            Sampling.CheckKind(reader, "cycle");
            Sampling.CheckSame(reader, "count", _batches.Count);
            int index = (int)reader.ReadInt64("index", 0, _batches.Count - 1);
            return () => _index = index;
        }
    }

    private sealed class FuncSource<T> : IBatchSource<T>
    {
        private readonly Func<T> _next;

        public FuncSource(Func<T> next) => _next = next ?? throw new ArgumentNullException(nameof(next));

        public T Next() => _next();
    }
}

/// <summary>Draws the row indices of batch after batch; its state goes into checkpoints.</summary>
internal interface IIndexSampler : ICheckpointable
{
    long[] NextIndices();
}

/// <summary>Checks shared by the samplers' checkpoint state.</summary>
internal static class Sampling
{
    public static void CheckKind(CheckpointReader reader, string kind)
    {
        string found = reader.ReadString("kind");
        if (found != kind) throw reader.Invalid("kind", $"the checkpoint holds a '{found}' batch source; this one is '{kind}'. Pass the sources in the order and of the kinds the run was saved with.");
    }

    public static void CheckSame(CheckpointReader reader, string key, long expected)
    {
        long found = reader.ReadInt64(key);
        if (found != expected)
            throw reader.Invalid(key, $"the batch source was saved with {key} = {found}; this one has {expected}. Build it from the same data and settings.");
    }
}

/// <summary>
/// Shuffled epochs of row indices, reshuffled at each epoch from a seeded generator. Its checkpoint state is the seed,
/// the number of shuffles done and the position in the current epoch; a restore replays the shuffles (cheap next to
/// training), so the generator continues exactly where it was.
/// </summary>
internal sealed class EpochSampler : IIndexSampler
{
    private readonly int _count;
    private readonly int _batchSize;
    private readonly bool _shuffle;
    private readonly bool _dropLast;
    private readonly int _seed;
    private Random _random;
    private int[] _order;
    private int _position;
    private long _shuffles;

    public EpochSampler(int count, int batchSize, bool shuffle, bool dropLast, int seed)
    {
        if (count < 1) throw new ArgumentException("The dataset is empty.", nameof(count));
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batchSize must be >= 1.");
        if (dropLast && batchSize > count)
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, $"batchSize must be <= the dataset size ({count}) when dropLast is set.");
        (_count, _batchSize, _shuffle, _dropLast, _seed) = (count, batchSize, shuffle, dropLast, seed);
        _random = new Random(seed);
        _order = Enumerable.Range(0, count).ToArray();
        _position = count; // forces a (re)shuffle on first use
    }

    public long[] NextIndices()
    {
        int remaining = _count - _position;
        if (remaining <= 0 || (_dropLast && remaining < _batchSize))
        {
            if (_shuffle)
            {
                _random.Shuffle(_order);
                _shuffles++;
            }
            _position = 0;
            remaining = _count;
        }
        int take = Math.Min(_batchSize, remaining);
        var indices = new long[take];
        for (int i = 0; i < take; i++) indices[i] = _order[_position + i];
        _position += take;
        return indices;
    }

    public void SaveState(CheckpointWriter writer)
    {
        writer.Write("kind", "epochs");
        writer.Write("count", _count);
        writer.Write("batch-size", _batchSize);
        writer.Write("shuffle", _shuffle ? 1 : 0);
        writer.Write("drop-last", _dropLast ? 1 : 0);
        writer.Write("seed", _seed);
        writer.Write("shuffles", _shuffles);
        writer.Write("position", _position);
    }

    public Action PrepareRestore(CheckpointReader reader)
    {
        Sampling.CheckKind(reader, "epochs");
        Sampling.CheckSame(reader, "count", _count);
        Sampling.CheckSame(reader, "batch-size", _batchSize);
        Sampling.CheckSame(reader, "shuffle", _shuffle ? 1 : 0);
        Sampling.CheckSame(reader, "drop-last", _dropLast ? 1 : 0);
        Sampling.CheckSame(reader, "seed", _seed);
        long shuffles = reader.ReadInt64("shuffles", 0, _shuffle ? long.MaxValue : 0);
        int position = (int)reader.ReadInt64("position", 0, _count);
        var random = new Random(_seed);
        var order = Enumerable.Range(0, _count).ToArray();
        for (long i = 0; i < shuffles; i++) random.Shuffle(order);
        return () => (_random, _order, _shuffles, _position) = (random, order, shuffles, position);
    }
}
