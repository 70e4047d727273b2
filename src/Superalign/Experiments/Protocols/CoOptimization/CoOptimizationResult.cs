using Microsoft.Extensions.Logging.Abstractions;
using Superalign.Experiments.Metrics;
using Superalign.Optimization;
using Superalign.Experiments.Tasks;

namespace Superalign.Experiments.Protocols;

/// <summary>Held-out competence and conformity after a number of training batches.</summary>
/// <param name="Batches">Mini-batches trained on so far (after the base).</param>
/// <param name="Competence">Held-out competence.</param>
/// <param name="Conformity">Held-out conformity.</param>
public sealed record TrajectoryPoint(int Batches, double Competence, double Conformity);

/// <summary>One schedule trained from one seed's base model.</summary>
/// <param name="Schedule">The schedule's name.</param>
/// <param name="Seed">The seed.</param>
/// <param name="Scores">Held-out scores at the end.</param>
/// <param name="Updates">Optimizer updates made.</param>
/// <param name="CompetenceBatches">Competence mini-batches used.</param>
/// <param name="ConformityBatches">Conformity mini-batches used.</param>
/// <param name="Trajectory">Held-out scores along training (starting with the base).</param>
/// <param name="Seconds">Training time (evaluation excluded).</param>
/// <param name="Search">What the direction search did (wins, cost), for a schedule that searches; otherwise null.</param>
public sealed record ScheduleRun(string Schedule, int Seed, ValueConflictScores Scores, int Updates, int CompetenceBatches, int ConformityBatches,
    IReadOnlyList<TrajectoryPoint> Trajectory, double Seconds, DirectionSearchStatistics? Search = null);

/// <summary>A searching schedule's direction searches, over its seeds.</summary>
/// <param name="Wins">Per candidate, the searches it won (summed over seeds).</param>
/// <param name="Searches">Searches run (summed over seeds).</param>
/// <param name="ParetoImprovements">Searches whose winner raised neither probe loss.</param>
/// <param name="SearchStepCostRatio">Mean over seeds of the wall time of a search step over that of a plain step.</param>
public sealed record SearchSummary(IReadOnlyDictionary<string, int> Wins, int Searches, int ParetoImprovements, double SearchStepCostRatio);

/// <summary>One schedule's results over seeds.</summary>
/// <param name="Schedule">The schedule's name.</param>
/// <param name="Description">The schedule's description.</param>
/// <param name="Competence">Held-out competence over seeds (mean, t interval).</param>
/// <param name="Conformity">Held-out conformity over seeds.</param>
/// <param name="CompetenceRetention">Mean competence as a fraction of the competence-only schedule's (NaN when that schedule is not compared).</param>
/// <param name="OnParetoFront">Whether no other schedule has a mean at least as high on both and higher on one.</param>
/// <param name="MeanSeconds">Mean training time per seed (evaluation excluded).</param>
/// <param name="Search">For a schedule that searches: its win counts and cost; otherwise null.</param>
public sealed record ScheduleSummary(string Schedule, string Description, SummaryStatistics Competence, SummaryStatistics Conformity, double CompetenceRetention,
    bool OnParetoFront, double MeanSeconds = double.NaN, SearchSummary? Search = null);

/// <summary>A paired comparison of two schedules over seeds (same seed = same base and data).</summary>
/// <param name="First">The first schedule.</param>
/// <param name="Second">The schedule subtracted.</param>
/// <param name="CompetenceDifference">Mean of first − second competence over seeds, with a t interval.</param>
/// <param name="ConformityDifference">Mean of first − second conformity over seeds, with a t interval.</param>
public sealed record PairedComparison(string First, string Second, SummaryStatistics CompetenceDifference, SummaryStatistics ConformityDifference);

/// <summary>The result of <see cref="CoOptimizationComparison"/>.</summary>
/// <param name="Options">The options.</param>
/// <param name="TrainPrompts">Training prompts per seed.</param>
/// <param name="TestPrompts">Held-out prompts per seed.</param>
/// <param name="Base">Held-out scores of each seed's base model (before any schedule).</param>
/// <param name="Runs">Every (schedule, seed) run.</param>
/// <param name="Summaries">Per-schedule results over seeds.</param>
/// <param name="WinnerOnBoth">The schedule with the highest mean competence and the highest mean conformity, when one schedule has both; otherwise null.</param>
/// <param name="BestOfBothObjectives">Among schedules that train both objectives, the one with the highest mean of the two scores.</param>
/// <param name="AlternatingVersusSequential">Paired differences alternating − sequential, when both are compared.</param>
/// <param name="VersusAlternating">Paired differences schedule − alternating for every other schedule, when alternating is compared.</param>
/// <param name="Verdict">The comparison in words, built from the numbers above.</param>
/// <param name="Pareto">
/// Every run's trajectory (run <c>schedule/seed N</c>, progress = mini-batches trained), the Pareto front of the runs'
/// final (competence, conformity) points and its hypervolume.
/// </param>
/// <param name="HypervolumeBySchedule">Per schedule, the hypervolume of its runs' final points (mean over seeds of each seed's single point).</param>
/// <param name="WallSeconds">Wall time of the whole protocol.</param>
public sealed record CoOptimizationResult(
    CoOptimizationOptions Options, int TrainPrompts, int TestPrompts, IReadOnlyList<ValueConflictScores> Base, IReadOnlyList<ScheduleRun> Runs,
    IReadOnlyList<ScheduleSummary> Summaries, string? WinnerOnBoth, string? BestOfBothObjectives, PairedComparison? AlternatingVersusSequential,
    string Verdict, ParetoSummary Pareto, IReadOnlyDictionary<string, SummaryStatistics> HypervolumeBySchedule, double WallSeconds,
    IReadOnlyList<PairedComparison>? VersusAlternating = null) : IProtocolResult;
