namespace Superalign.Experiments.Metrics;

/// <summary>A point of competence and conformity (both higher-is-better) reached by a run.</summary>
/// <param name="Run">Which run (e.g. <c>alternating/seed 2</c>).</param>
/// <param name="Progress">How far the run was when it was measured (batches, steps or rounds).</param>
/// <param name="Competence">Held-out competence.</param>
/// <param name="Conformity">Held-out conformity.</param>
public sealed record ParetoPoint(string Run, double Progress, double Competence, double Conformity)
{
    /// <summary>Whether this point is at least as good on both objectives and better on one.</summary>
    public bool Dominates(ParetoPoint other) =>
        Competence >= other.Competence && Conformity >= other.Conformity && (Competence > other.Competence || Conformity > other.Conformity);
}

/// <summary>
/// Pareto fronts and hypervolumes of (competence, conformity) points, both maximised: the multi-objective view of
/// co-optimization, where a schedule is better only if it gives up neither objective.
/// </summary>
public static class ParetoAnalysis
{
    /// <summary>
    /// The non-dominated points of <paramref name="points"/>, sorted by competence (ascending, so conformity descends).
    /// Of duplicate points the first is kept. NaN points are ignored.
    /// </summary>
    public static IReadOnlyList<ParetoPoint> Front(IEnumerable<ParetoPoint> points)
    {
        ArgumentNullException.ThrowIfNull(points);
        var finite = points.Where(p => double.IsFinite(p.Competence) && double.IsFinite(p.Conformity)).ToList();
        // Sweep by competence descending (ties: conformity descending): a point is on the front when its conformity
        // beats every point of higher-or-equal competence seen before it.
        var sorted = finite.Select((p, i) => (p, i)).OrderByDescending(t => t.p.Competence).ThenByDescending(t => t.p.Conformity).ThenBy(t => t.i);
        var front = new List<ParetoPoint>();
        double best = double.NegativeInfinity;
        foreach (var (p, _) in sorted)
        {
            if (p.Conformity > best)
            {
                front.Add(p);
                best = p.Conformity;
            }
        }
        front.Reverse();
        return front;
    }

    /// <summary>
    /// The hypervolume (area, in 2-D) dominated by <paramref name="points"/> and dominating the reference point
    /// (<paramref name="referenceCompetence"/>, <paramref name="referenceConformity"/>): larger is better, and it grows
    /// whenever a run pushes the front outwards. Points that do not dominate the reference add nothing.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A reference coordinate is not finite.</exception>
    public static double Hypervolume(IEnumerable<ParetoPoint> points, double referenceCompetence = 0, double referenceConformity = 0)
    {
        ArgumentNullException.ThrowIfNull(points);
        MetricInputs.Finite(referenceCompetence, nameof(referenceCompetence));
        MetricInputs.Finite(referenceConformity, nameof(referenceConformity));
        var front = Front(points).Where(p => p.Competence > referenceCompetence && p.Conformity > referenceConformity).ToList();
        // Front sorted by competence ascending: each point adds the slab between the previous competence and its own,
        // at its conformity (which is the highest among points at least as competent).
        double area = 0, previous = referenceCompetence;
        foreach (var p in front)
        {
            area += (p.Competence - previous) * (p.Conformity - referenceConformity);
            previous = p.Competence;
        }
        return area;
    }
}

/// <summary>The Pareto view of a set of runs: their trajectories, the front of their final points and its hypervolume.</summary>
/// <param name="Trajectories">Every recorded point, run by run in the order recorded.</param>
/// <param name="Finals">The last point of each run.</param>
/// <param name="Front">The front of the final points.</param>
/// <param name="Hypervolume">Hypervolume of the final points against (0, 0).</param>
/// <param name="FrontOfAll">The front of every recorded point (a run can pass through a better point than it ends at).</param>
/// <param name="HypervolumeOfAll">Hypervolume of every recorded point against (0, 0).</param>
public sealed record ParetoSummary(IReadOnlyList<ParetoPoint> Trajectories, IReadOnlyList<ParetoPoint> Finals, IReadOnlyList<ParetoPoint> Front,
    double Hypervolume, IReadOnlyList<ParetoPoint> FrontOfAll, double HypervolumeOfAll);

/// <summary>
/// Records competence and conformity along runs (call <see cref="Record"/> at each evaluation) and summarises them as
/// Pareto fronts and hypervolumes (<see cref="Summarize"/>; write the summary with <c>ProtocolJson.Write</c>).
/// Not thread-safe.
/// </summary>
public sealed class ParetoTracker
{
    private readonly List<ParetoPoint> _points = [];

    /// <summary>Records one evaluation of run <paramref name="run"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A score is not finite.</exception>
    /// <exception cref="ArgumentException">The run name is empty.</exception>
    public void Record(string run, double progress, double competence, double conformity)
    {
        ArgumentException.ThrowIfNullOrEmpty(run);
        MetricInputs.Finite(competence, nameof(competence));
        MetricInputs.Finite(conformity, nameof(conformity));
        _points.Add(new ParetoPoint(run, progress, competence, conformity));
    }

    /// <summary>Everything recorded so far.</summary>
    public IReadOnlyList<ParetoPoint> Points => _points;

    /// <summary>The fronts and hypervolumes of what was recorded.</summary>
    public ParetoSummary Summarize()
    {
        var finals = _points.GroupBy(p => p.Run).Select(g => g.Last()).ToList();
        return new ParetoSummary(_points.ToList(), finals, ParetoAnalysis.Front(finals), ParetoAnalysis.Hypervolume(finals), ParetoAnalysis.Front(_points), ParetoAnalysis.Hypervolume(_points));
    }
}
