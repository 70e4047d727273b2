using static TorchSharp.torch;

namespace Superalign.Data;

/// <summary>
/// Seeded train/test splits of your own data: a partition of the rows in which the test share is
/// <c>k = ⌊n·testFraction + ½⌋</c> rows (at least one on each side), optionally stratified by label so that every
/// class keeps its share.
/// </summary>
/// <remarks>
/// Unstratified: the rows are shuffled with <c>new Random(seed)</c> and the first <c>k</c> go to the test set.
/// Stratified: class <c>c</c> with <c>n_c</c> rows gives <c>k_c</c> test rows, the largest-remainder rounding of
/// <c>k·n_c/n</c> (ties to the lower class), so <c>Σ k_c = k</c> and <c>|k_c − k·n_c/n| &lt; 1</c>; each class's rows are
/// shuffled (classes in ascending order, one generator) and its first <c>k_c</c> go to the test set. Both index lists
/// are returned in ascending order, so the rows keep the file's order. The same (n, fraction, seed, labels) give the
/// same split in every process (<see cref="Random"/> with a seed is stable).
/// </remarks>
public static class DataSplits
{
    /// <summary>The row indices of a train/test split of <paramref name="count"/> rows.</summary>
    /// <param name="count">Rows (at least 2).</param>
    /// <param name="testFraction">Share of the rows in the test set, in (0, 1).</param>
    /// <param name="seed">Seed of the shuffle.</param>
    /// <param name="labels">Class of each row to stratify by (<paramref name="count"/> entries), or null for a plain split.</param>
    /// <returns>Disjoint ascending index lists whose union is 0..count−1; the test list has <c>k</c> entries.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> or <paramref name="testFraction"/> is out of range.</exception>
    /// <exception cref="ArgumentException"><paramref name="labels"/> has the wrong length.</exception>
    public static (int[] Train, int[] Test) TrainTestIndices(int count, double testFraction, int seed, IReadOnlyList<long>? labels = null)
    {
        int k = TestCount(count, testFraction);
        if (labels is not null && labels.Count != count)
            throw new ArgumentException($"labels has {labels.Count} entries but count is {count}.", nameof(labels));
        var test = new List<int>(k);
        var rng = new Random(seed);
        if (labels is null)
        {
            var order = Enumerable.Range(0, count).ToArray();
            rng.Shuffle(order);
            test.AddRange(order.Take(k));
        }
        else
        {
            var classes = Enumerable.Range(0, count).GroupBy(i => labels[i]).OrderBy(g => g.Key).Select(g => g.ToArray()).ToArray();
            var quotas = Quotas(k, classes.Select(c => c.Length).ToArray(), count);
            for (int c = 0; c < classes.Length; c++)
            {
                rng.Shuffle(classes[c]);
                test.AddRange(classes[c].Take(quotas[c]));
            }
        }
        var inTest = new bool[count];
        foreach (int i in test) inTest[i] = true;
        return (Enumerable.Range(0, count).Where(i => !inTest[i]).ToArray(), Enumerable.Range(0, count).Where(i => inTest[i]).ToArray());
    }

    /// <summary>
    /// A train/test split of <paramref name="table"/> (see <see cref="TrainTestIndices"/>): both tables keep the feature
    /// names and the class count, and live on the table's device.
    /// </summary>
    /// <param name="table">The labeled rows (e.g. from <see cref="DataFiles.ReadClassificationCsv"/>), at least 2.</param>
    /// <param name="testFraction">Share of the rows in the test set, in (0, 1).</param>
    /// <param name="seed">Seed of the shuffle.</param>
    /// <param name="stratify">Keep every class's share in both parts (default true).</param>
    /// <exception cref="ArgumentOutOfRangeException">The table has fewer than 2 rows, or the fraction is out of range.</exception>
    public static (ClassificationTable Train, ClassificationTable Test) TrainTest(ClassificationTable table, double testFraction, int seed, bool stratify = true)
    {
        ArgumentNullException.ThrowIfNull(table);
        int n = (int)table.Features.shape[0];
        var labels = stratify ? table.Labels.to_type(ScalarType.Int64).cpu().data<long>().ToArray() : null;
        var (train, test) = TrainTestIndices(n, testFraction, seed, labels);
        return (Rows(table, train), Rows(table, test));
    }

    /// <summary>The test share <c>k = ⌊n·f + ½⌋</c>, kept within [1, n − 1].</summary>
    private static int TestCount(int count, double testFraction)
    {
        if (count < 2) throw new ArgumentOutOfRangeException(nameof(count), count, $"A train/test split needs at least 2 rows; got {count}.");
        if (!(testFraction > 0 && testFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(testFraction), testFraction, $"testFraction must be in (0, 1); got {testFraction}.");
        return (int)Math.Clamp(Math.Floor(count * testFraction + 0.5), 1, count - 1);
    }

    /// <summary>Largest-remainder rounding of <c>k·size_c/n</c> (ties: lower class): quotas summing to k, each at most size_c.</summary>
    internal static int[] Quotas(int k, int[] sizes, int n)
    {
        var raw = sizes.Select(s => (double)k * s / n).ToArray();
        var quotas = raw.Select(r => (int)Math.Floor(r)).ToArray();
        int left = k - quotas.Sum();
        foreach (int c in Enumerable.Range(0, sizes.Length).OrderByDescending(c => raw[c] - quotas[c]).ThenBy(c => c).Take(left)) quotas[c]++;
        return quotas;
    }

    private static ClassificationTable Rows(ClassificationTable table, int[] rows)
    {
        using var index = tensor(rows.Select(i => (long)i).ToArray(), device: table.Features.device);
        return new ClassificationTable(table.Features.index_select(0, index), table.Labels.index_select(0, index.to(table.Labels.device)), table.FeatureNames, table.Classes);
    }
}
