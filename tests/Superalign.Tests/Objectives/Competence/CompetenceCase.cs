using TorchSharp;
using static TorchSharp.torch;

namespace Superalign.Tests.Objectives.Competence;

/// <summary>
/// A competence input held as plain arrays (row-major <c>[B, T, V]</c> and <c>[B, T]</c>), so the scalar reference can
/// read it without TorchSharp and tests can turn it into tensors of any dtype.
/// </summary>
public sealed record CompetenceCase(int B, int T, int V, double[] Logits, double[] Soft, double[] Mask, long[] Targets, double StepFraction = 1)
{
    public int Positions => B * T;

    public double[] LogitRow(int i) => Logits.AsSpan(i * V, V).ToArray();
    public double[] SoftRow(int i) => Soft.AsSpan(i * V, V).ToArray();
    public IEnumerable<int> Scored => Enumerable.Range(0, Positions).Where(i => Mask[i] > 0);

    /// <summary>
    /// Random case from <paramref name="seed"/>: logits of varied scale; soft labels from a second softmax (some with
    /// exact zeros); a ragged LM-style mask per row (prompt, response of length ≥ 1, padding) when T &gt; 1; and at
    /// masked positions out-of-range target ids and all-zero soft rows, as padding really looks.
    /// </summary>
    public static CompetenceCase Random(int seed, int b, int t, int v)
    {
        var rng = new Random(seed);
        double scale = 0.5 + 3.5 * rng.NextDouble();
        var logits = new double[b * t * v];
        var soft = new double[b * t * v];
        var mask = new double[b * t];
        var targets = new long[b * t];
        for (int row = 0; row < b; row++)
        {
            int start = t == 1 ? 0 : rng.Next(t), length = t == 1 ? 1 : 1 + rng.Next(t - start);
            for (int pos = 0; pos < t; pos++)
                mask[row * t + pos] = pos >= start && pos < start + length ? 1 : 0;
        }
        for (int i = 0; i < b * t; i++)
        {
            for (int c = 0; c < v; c++) logits[i * v + c] = scale * Gaussian(rng);
            bool scored = mask[i] > 0;
            targets[i] = scored ? rng.Next(v) : (rng.Next(2) == 0 ? -1 : v + 3);
            if (!scored && rng.Next(2) == 0) continue; // padding: all-zero soft row
            var raw = Enumerable.Range(0, v).Select(_ => 2 * Gaussian(rng)).ToArray();
            if (v > 2 && rng.Next(4) == 0) raw[rng.Next(v)] = double.NegativeInfinity; // an exact zero label
            var y = Softmax(raw);
            Array.Copy(y, 0, soft, i * v, v);
        }
        return new CompetenceCase(b, t, v, logits, soft, mask, targets);
    }

    /// <summary>The case as a <see cref="CompetenceInput"/>; a classifier case (T = 1) may pass soft targets as [B, V].</summary>
    public CompetenceInput ToInput(ScalarType dtype = ScalarType.Float64, Device? device = null, bool flatSoft = false, bool withSoft = true, Tensor? logits = null)
    {
        device ??= CPU;
        var softShape = flatSoft ? new long[] { B, V } : new long[] { B, T, V };
        return new CompetenceInput(
            logits ?? tensor(Logits, dtype: ScalarType.Float64).reshape(B, T, V).to(dtype, device),
            tensor(Targets, dtype: ScalarType.Int64).reshape(B, T).to(device),
            tensor(Mask, dtype: ScalarType.Float64).reshape(B, T).to(dtype, device),
            withSoft ? tensor(Soft, dtype: ScalarType.Float64).reshape(softShape).to(dtype, device) : null,
            new TrainingProgress((long)Math.Round(StepFraction * 1000), 1000));
    }

    public Tensor LogitsTensor() => tensor(Logits, dtype: ScalarType.Float64).reshape(B, T, V);

    public static double[] Softmax(double[] z)
    {
        double max = z.Max();
        var e = z.Select(x => Math.Exp(x - max)).ToArray();
        double sum = e.Sum();
        return e.Select(x => x / sum).ToArray();
    }

    private static double Gaussian(Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
