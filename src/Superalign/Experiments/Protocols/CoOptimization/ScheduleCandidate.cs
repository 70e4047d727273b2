using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging.Abstractions;
using Superalign.Optimization;

namespace Superalign.Experiments.Protocols;

/// <summary>A training schedule compared by <see cref="CoOptimizationComparison"/>.</summary>
/// <param name="Name">Short name used in tables and JSON (e.g. <c>alternating</c>).</param>
/// <param name="Schedule">The alternation schedule.</param>
/// <param name="ConflictMode">How its joint steps combine the two gradients (<see cref="AlternatingOptimizerOptions.ConflictMode"/>).</param>
/// <param name="Search">
/// Optional search over learning directions (<see cref="AlternatingOptimizerOptions.DirectionSearch"/>), which replaces
/// <paramref name="Schedule"/>; the protocol supplies its probe sources from the held-out probe prompts
/// (<see cref="CoOptimizationOptions.ProbePrompts"/>), replacing any given here.
/// </param>
public sealed record ScheduleCandidate(
    string Name,
    IAlternationSchedule Schedule,
    ConflictMode ConflictMode = ConflictMode.None,
    DirectionSearchOptions? Search = null)
{
    /// <summary>The schedule's description (for tables and logs).</summary>
    [JsonIgnore]
    public string Description => Search is { } search
        ? $"direction search every {search.Every} steps over {string.Join(", ", search.Candidates.Select(c => c.Name))} ({search.Choice})"
        : Schedule.ToString() ?? Name;

    /// <summary>A candidate that searches over learning directions instead of following a schedule.</summary>
    public static ScheduleCandidate Searching(string name, DirectionSearchOptions search) =>
        new(name, AlternationSchedules.FixedRatio(1, 1), ConflictMode.None, search ?? throw new ArgumentNullException(nameof(search)));

    /// <summary>
    /// The five schedules of the headline comparison: competence only, conformity only, sequential (competence then
    /// conformity, half the budget each: SFT then DPO), joint (weighted sum 1:1, RPO-like) and alternating (1:1).
    /// </summary>
    public static IReadOnlyList<ScheduleCandidate> Defaults() =>
    [
        new("competence-only", AlternationSchedules.CompetenceOnly()),
        new("conformity-only", AlternationSchedules.ConformityOnly()),
        new("sequential", AlternationSchedules.Sequential(0.5)),
        new("joint", AlternationSchedules.Joint(1.0, 1.0)),
        new("alternating", AlternationSchedules.FixedRatio(1, 1)),
    ];

    /// <summary>
    /// The paper's path against plain alternation: alternating 1:1; an annealed ratio (conformity share 0.2 → 0.8);
    /// joint 1:1 as the plain weighted sum; joint with conflict-aware combinations of the two gradients — PCGrad
    /// (<see cref="ConflictMode.ProjectConflicting"/>) and MGDA (<see cref="ConflictMode.MinNorm"/>); and three searches
    /// over learning directions every 4 steps: over the phase (competence or conformity step) with the best Pareto
    /// improvement on the probes, the same with the scalarized rule, and over joint weights (1:0.5, 1:1, 0.5:1) with
    /// the best Pareto improvement. The searches need <see cref="CoOptimizationOptions.ProbePrompts"/>.
    /// </summary>
    public static IReadOnlyList<ScheduleCandidate> ConflictAware() =>
    [
        new("alternating", AlternationSchedules.FixedRatio(1, 1)),
        new("annealed-ratio", AlternationSchedules.AnnealedRatio(0.2, 0.8)),
        new("joint", AlternationSchedules.Joint(1.0, 1.0)),
        new("joint-pcgrad", AlternationSchedules.Joint(1.0, 1.0), ConflictMode.ProjectConflicting),
        new("joint-mgda", AlternationSchedules.Joint(1.0, 1.0), ConflictMode.MinNorm),
        Searching("search-phase", new DirectionSearchOptions { Candidates = [DirectionCandidate.Competence, DirectionCandidate.Conformity], Every = 4 }),
        Searching("search-phase-scalarized", new DirectionSearchOptions
        {
            Candidates = [DirectionCandidate.Competence, DirectionCandidate.Conformity], Every = 4, Choice = DirectionChoice.Scalarized,
        }),
        Searching("search-weights", new DirectionSearchOptions
        {
            Candidates = [DirectionCandidate.Joint(1, 0.5), DirectionCandidate.Joint(1, 1), DirectionCandidate.Joint(0.5, 1)], Every = 4,
        }),
    ];
}
