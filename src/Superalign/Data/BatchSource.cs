namespace Superalign.Data;

/// <summary>An endless supply of batches for the optimizer, which pulls as many as each step needs.</summary>
public interface IBatchSource<out T>
{
    /// <summary>The next batch.</summary>
    T Next();
}

/// <summary>Batch sources over in-memory collections.</summary>
public static class BatchSource
{
    /// <summary>Cycles through <paramref name="batches"/> in order, forever.</summary>
    public static IBatchSource<T> Cycle<T>(IReadOnlyList<T> batches) => new CycleSource<T>(batches);

    /// <summary>Calls <paramref name="next"/> for every batch.</summary>
    public static IBatchSource<T> From<T>(Func<T> next) => new FuncSource<T>(next);

    private sealed class CycleSource<T> : IBatchSource<T>
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
    }

    private sealed class FuncSource<T> : IBatchSource<T>
    {
        private readonly Func<T> _next;

        public FuncSource(Func<T> next) => _next = next ?? throw new ArgumentNullException(nameof(next));

        public T Next() => _next();
    }
}

/// <summary>Shuffled epochs of row indices, reshuffled at each epoch from a seeded generator.</summary>
internal sealed class EpochSampler
{
    private readonly int _count;
    private readonly int _batchSize;
    private readonly bool _shuffle;
    private readonly bool _dropLast;
    private readonly Random _random;
    private readonly int[] _order;
    private int _position;

    public EpochSampler(int count, int batchSize, bool shuffle, bool dropLast, int seed)
    {
        if (count < 1) throw new ArgumentException("The dataset is empty.", nameof(count));
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batchSize must be >= 1.");
        if (dropLast && batchSize > count)
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, $"batchSize must be <= the dataset size ({count}) when dropLast is set.");
        (_count, _batchSize, _shuffle, _dropLast) = (count, batchSize, shuffle, dropLast);
        _random = new Random(seed);
        _order = Enumerable.Range(0, count).ToArray();
        _position = count; // forces a (re)shuffle on first use
    }

    public long[] NextIndices()
    {
        int remaining = _count - _position;
        if (remaining <= 0 || (_dropLast && remaining < _batchSize))
        {
            if (_shuffle) _random.Shuffle(_order);
            _position = 0;
            remaining = _count;
        }
        int take = Math.Min(_batchSize, remaining);
        var indices = new long[take];
        for (int i = 0; i < take; i++) indices[i] = _order[_position + i];
        _position += take;
        return indices;
    }
}
