using System.Diagnostics;
using Superalign.Checkpoints;
using Superalign.Data;
using static TorchSharp.torch;

namespace Superalign.Optimization;

/// <summary>
/// The direction search inside the optimizer (<see cref="AlternatingOptimizerOptions.DirectionSearch"/>): its search
/// steps, the plan in force between them, and its win counts and cost.
/// </summary>
internal sealed class DirectionSearchStep : ICheckpointable
{
    private readonly DirectionSearchOptions _search;
    private readonly AlternatingOptimizerOptions _options;
    private readonly IStudent _student;
    private readonly StepLosses _losses;
    private readonly FlatAdamW _updater;
    private readonly int[] _wins;
    private int _searches, _pareto, _plainSteps;
    private double _searchSeconds, _plainSeconds;

    public DirectionSearchStep(DirectionSearchOptions search, AlternatingOptimizerOptions options, IStudent student, StepLosses losses, FlatAdamW updater)
    {
        _search = search;
        _options = options;
        _student = student;
        _losses = losses;
        _updater = updater;
        _wins = new int[search.Candidates.Count];
        Current = search.Candidates[0];
    }

    /// <summary>The winner of the last search (the first candidate before any search).</summary>
    public DirectionCandidate Current { get; private set; }

    public bool IsDue(long step) => step % _search.Every == 0;

    public void RecordPlainStep(double seconds)
    {
        _plainSteps++;
        _plainSeconds += seconds;
    }

    public DirectionSearchStatistics Statistics() => new(
        _searches,
        _search.Candidates.Select((c, i) => (c.Name, Wins: _wins[i])).ToDictionary(x => x.Name, x => x.Wins, StringComparer.Ordinal),
        _pareto, _searchSeconds, _plainSteps, _plainSeconds);

    /// <summary>
    /// A direction-search step: g_c and g_f on the step's batches (kept apart, as a joint step with conflict
    /// diagnostics computes them), then for each candidate its update on the saved state, scored on the probe batches
    /// and undone; the winner's update is applied last, exactly as a plain step with its plan would apply it.
    /// </summary>
    /// <param name="step">The step's index.</param>
    /// <param name="competenceData">The step's competence batches.</param>
    /// <param name="conformityData">The step's preference batches.</param>
    /// <param name="watch">Started when the step began.</param>
    /// <param name="onApplied">Called right after the winner's update is applied.</param>
    /// <param name="log">Logs the step's report.</param>
    /// <param name="cancellationToken">Checked before each candidate.</param>
    public StepReport Run(long step, IBatchSource<SupervisedBatch>? competenceData, IBatchSource<PreferenceBatch>? conformityData,
        Stopwatch watch, Action onApplied, Action<StepReport> log, CancellationToken cancellationToken)
    {
        if (competenceData is null || conformityData is null)
            throw new InvalidOperationException(
                $"Step {step} is a direction-search step, which needs the step's gradients of both objectives: pass both the competence and the conformity batch source to Step.");
        using var scope = NewDisposeScope();
        _student.SetTraining(true);
        _updater.ZeroGrad();
        // Both losses with unit weight; the winner's weights enter when the winner is known.
        var sums = new StepSums(step, new PhasePlan(TrainingPhase.Joint, 1, 1), new TrainingProgress(step, _options.TotalSteps), _options.GradientAccumulationSteps);
        FlatAdamWState? saved = null;
        bool applied = false;
        try
        {
            var kept = GradientsKeptApart.Accumulate(_losses, _updater, sums, competenceData, conformityData, copyConformity: true);
            var (competence, conformity, geometry) = (kept.Competence, kept.Conformity!, kept.Geometry);

            var competenceProbes = Enumerable.Range(0, _search.ProbeBatches).Select(_ => _search.CompetenceProbes!.Next()).ToList();
            var conformityProbes = Enumerable.Range(0, _search.ProbeBatches).Select(_ => _search.ConformityProbes!.Next()).ToList();
            var before = ProbeLosses(competenceProbes, conformityProbes, sums.Progress);
            StepLosses.Check(before.Competence, step, TrainingPhase.Joint, "competence probe loss");
            StepLosses.Check(before.Conformity, step, TrainingPhase.Joint, "conformity probe loss");

            double lr = _options.LearningRateAt(step);
            saved = _updater.Save();
            var after = new List<(double Competence, double Conformity)>(_search.Candidates.Count);
            foreach (var candidate in _search.Candidates)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var (norm, _) = WriteDirection(candidate, competence, conformity, geometry);
                if (double.IsFinite(norm) && _updater.Step(lr))
                {
                    after.Add(ProbeLosses(competenceProbes, conformityProbes, sums.Progress));
                    _updater.Restore(saved);
                }
                else
                {
                    after.Add((double.NaN, double.NaN));
                }
            }
            var verdict = DirectionSearchRule.Choose(before.Competence, before.Conformity, after, _search.Choice,
                _search.CompetencePreference, _search.ConformityPreference);
            var winner = _search.Candidates[verdict.Index];
            if (double.IsPositiveInfinity(verdict.Scores[verdict.Index]))
                throw new NonFiniteLossException(step, winner.Phase, "probe losses after every direction-search candidate", double.NaN);

            var (gradNorm, combination) = WriteDirection(winner, competence, conformity, geometry);
            StepLosses.Check(gradNorm, step, winner.Phase, "gradient norm");
            if (!_updater.Step(lr)) throw new NonFiniteLossException(step, winner.Phase, "parameters or second moments after the AdamW update", double.NaN);
            applied = true;
            onApplied();

            if (winner.Phase == TrainingPhase.Joint) combination.Report(_options.ConflictMode, sums.Metrics);
            sums.Metrics[MetricNames.SearchWinner] = verdict.Index;
            sums.Metrics[MetricNames.SearchParetoImprovement] = verdict.ParetoImprovement ? 1 : 0;
            sums.Metrics[MetricNames.SearchProbeCompetence] = before.Competence;
            sums.Metrics[MetricNames.SearchProbeConformity] = before.Conformity;
            sums.Metrics[MetricNames.SearchCompetenceChange] = after[verdict.Index].Competence - before.Competence;
            sums.Metrics[MetricNames.SearchConformityChange] = after[verdict.Index].Conformity - before.Conformity;
            double loss = winner.CompetenceWeight * sums.Competence + winner.ConformityWeight * sums.Conformity;
            var report = new StepReport(step, winner.Phase, loss, sums.Competence, sums.Conformity, gradNorm, lr, watch.Elapsed, sums.Metrics);
            RecordSearch(verdict, report.Elapsed.TotalSeconds);
            log(report);
            return report;
        }
        catch
        {
            // A trial may have been in flight: put the state back as it was before the step.
            if (saved is not null && !applied) _updater.Restore(saved);
            _updater.ZeroGrad();
            throw;
        }
    }

    public void SaveState(CheckpointWriter writer)
    {
        writer.Write("candidates", _wins.Length);
        writer.Write("current", Enumerable.Range(0, _wins.Length).First(i => ReferenceEquals(_search.Candidates[i], Current)));
        for (int i = 0; i < _wins.Length; i++) writer.Write($"wins.{i}", _wins[i]);
        writer.Write("searches", _searches);
        writer.Write("pareto", _pareto);
        writer.Write("plain-steps", _plainSteps);
        writer.Write("search-seconds", _searchSeconds);
        writer.Write("plain-seconds", _plainSeconds);
    }

    public Action PrepareRestore(CheckpointReader reader)
    {
        int n = _wins.Length;
        reader.ReadInt64("candidates", n, n);
        int current = (int)reader.ReadInt64("current", 0, n - 1);
        var wins = Enumerable.Range(0, n).Select(i => (int)reader.ReadInt64($"wins.{i}", 0, int.MaxValue)).ToArray();
        int searches = (int)reader.ReadInt64("searches", 0, int.MaxValue);
        int pareto = (int)reader.ReadInt64("pareto", 0, int.MaxValue);
        int plain = (int)reader.ReadInt64("plain-steps", 0, int.MaxValue);
        double searchSeconds = reader.ReadDouble("search-seconds");
        double plainSeconds = reader.ReadDouble("plain-seconds");
        return () =>
        {
            Current = _search.Candidates[current];
            wins.CopyTo(_wins, 0);
            (_searches, _pareto, _plainSteps, _searchSeconds, _plainSeconds) = (searches, pareto, plain, searchSeconds, plainSeconds);
        };
    }

    private void RecordSearch(DirectionVerdict verdict, double seconds)
    {
        Current = _search.Candidates[verdict.Index];
        _wins[verdict.Index]++;
        _searches++;
        if (verdict.ParetoImprovement) _pareto++;
        _searchSeconds += seconds;
    }

    /// <summary>
    /// Writes the candidate's direction into the gradients, as a plain step with its plan would form it: the weighted
    /// sum, or the <see cref="AlternatingOptimizerOptions.ConflictMode"/> combination when both weights are &gt; 0; then
    /// clips. Returns the norm before clipping.
    /// </summary>
    private (double Norm, GradientCombination Combination) WriteDirection(DirectionCandidate candidate, GradientSnapshot competence, GradientSnapshot conformity, GradientGeometry geometry)
    {
        var (wc, wf) = (candidate.CompetenceWeight, candidate.ConformityWeight);
        var combination = wc > 0 && wf > 0
            ? GradientConflict.Combine(geometry, wc, wf, _options.ConflictMode)
            : new GradientCombination(wc, wf, false, double.NaN);
        conformity.CopyInto(_updater.Gradients());
        competence.CombineInto(_updater.Gradients(), combination.CompetenceCoefficient, combination.ConformityCoefficient);
        return (_updater.ClipGradients(_options.MaxGradientNorm), combination);
    }

    /// <summary>Mean competence and conformity losses over the probe batches, in evaluation mode, without gradients.</summary>
    private (double Competence, double Conformity) ProbeLosses(List<SupervisedBatch> competenceProbes, List<PreferenceBatch> conformityProbes, TrainingProgress progress)
    {
        _student.SetTraining(false);
        try
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            double c = 0, f = 0;
            foreach (var batch in competenceProbes) c += StepLosses.ScalarOf(_losses.CompetenceForward(batch, progress).Loss, "competence probe loss") / competenceProbes.Count;
            foreach (var batch in conformityProbes) f += StepLosses.ScalarOf(_losses.ConformityForward(batch).Loss, "conformity probe loss") / conformityProbes.Count;
            return (c, f);
        }
        finally
        {
            _student.SetTraining(true);
        }
    }
}
