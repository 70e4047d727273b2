using FsCheck;
using FsCheck.Fluent;
using Superalign.Experiments.Metrics;
using Xunit;

namespace Superalign.Tests.Experiments.Metrics;

public class ParetoTests
{
    private static ParetoPoint P(double competence, double conformity, string run = "r") => new(run, 0, competence, conformity);

    [Fact]
    public void Front_keeps_the_non_dominated_points_sorted_by_competence()
    {
        var points = new[] { P(0.9, 0.5), P(0.5, 0.9), P(0.7, 0.7), P(0.6, 0.6), P(0.9, 0.4), P(0.2, 0.95), P(0.7, 0.7, "duplicate") };
        var front = ParetoAnalysis.Front(points);
        Assert.Equal(new[] { (0.2, 0.95), (0.5, 0.9), (0.7, 0.7), (0.9, 0.5) }, front.Select(p => (p.Competence, p.Conformity)));
        Assert.Equal("r", front[2].Run); // of duplicates, the first is kept
    }

    [Fact]
    public void Hypervolume_matches_a_hand_computation()
    {
        // Staircase: [0, 0.2]×0.95 + [0.2, 0.5]×0.9 + [0.5, 0.7]×0.7 + [0.7, 0.9]×0.5
        double expected = 0.2 * 0.95 + 0.3 * 0.9 + 0.2 * 0.7 + 0.2 * 0.5;
        Assert.Equal(expected, ParetoAnalysis.Hypervolume([P(0.9, 0.5), P(0.5, 0.9), P(0.7, 0.7), P(0.6, 0.6), P(0.2, 0.95)]), 12);
        // Against the reference (0.5, 0.5): only the part above it counts.
        Assert.Equal(0.2 * 0.2, ParetoAnalysis.Hypervolume([P(0.7, 0.7), P(0.4, 0.99)], 0.5, 0.5), 12);
        Assert.Equal(0, ParetoAnalysis.Hypervolume([]));
    }

    [Fact]
    public void Hypervolume_equals_the_area_of_the_union_of_dominated_boxes()
    {
        var coordinate = Gen.Choose(0, 20).Select(i => i / 20.0);
        var points = Gen.Zip(coordinate, coordinate).Select(t => P(t.Item1, t.Item2)).ArrayOf().ToArbitrary();
        Prop.ForAll(points, ps =>
        {
            double area = UnionArea(ps);
            return Math.Abs(ParetoAnalysis.Hypervolume(ps) - area) < 1e-12
                   && ParetoAnalysis.Front(ps).All(f => !ps.Any(q => q.Dominates(f)))
                   && ps.All(q => ParetoAnalysis.Front(ps).Any(f => f.Dominates(q) || (f.Competence == q.Competence && f.Conformity == q.Conformity)));
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Tracker_summarises_final_points_and_whole_trajectories()
    {
        var tracker = new ParetoTracker();
        tracker.Record("a", 0, 0.2, 0.2);
        tracker.Record("a", 1, 0.9, 0.9);   // a passes through a point better than where it ends
        tracker.Record("a", 2, 0.8, 0.6);
        tracker.Record("b", 2, 0.5, 0.7);
        var summary = tracker.Summarize();
        Assert.Equal(new[] { 0.8, 0.5 }, summary.Finals.Select(p => p.Competence));
        Assert.Equal(new[] { "b", "a" }, summary.Front.Select(p => p.Run));
        Assert.Equal(0.5 * 0.7 + 0.3 * 0.6, summary.Hypervolume, 12);
        Assert.Equal(0.81, summary.HypervolumeOfAll, 12);
        Assert.Equal("competence", Assert.Throws<ArgumentOutOfRangeException>(() => tracker.Record("c", 0, double.NaN, 0.5)).ParamName);
    }

    /// <summary>Independent check: area of the union of boxes [0, c]×[0, f] by coordinate compression.</summary>
    private static double UnionArea(IReadOnlyList<ParetoPoint> points)
    {
        var xs = points.Select(p => p.Competence).Append(0).Distinct().Order().ToArray();
        var ys = points.Select(p => p.Conformity).Append(0).Distinct().Order().ToArray();
        double area = 0;
        for (int i = 0; i + 1 < xs.Length; i++)
            for (int j = 0; j + 1 < ys.Length; j++)
                if (points.Any(p => p.Competence >= xs[i + 1] && p.Conformity >= ys[j + 1]))
                    area += (xs[i + 1] - xs[i]) * (ys[j + 1] - ys[j]);
        return area;
    }
}
