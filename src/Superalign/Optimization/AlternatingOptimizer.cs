using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Superalign.Data;
using Superalign.Objectives;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Superalign.Optimization;

/// <summary>
/// Trains a student on a competence objective and a conformity objective together, interleaving task-loss steps with
/// DPO-style value-preference steps under an <see cref="IAlternationSchedule"/> (fixed ratio, joint weighted sum, or
/// ratios and weights that change over training), with AdamW, gradient clipping, warm-up + decay of the learning rate
/// and gradient accumulation. Optionally it measures how the two objectives' gradients conflict
/// (<see cref="AlternatingOptimizerOptions.ConflictDiagnostics"/>) and combines them on joint steps by PCGrad or MGDA
/// instead of the weighted sum (<see cref="AlternatingOptimizerOptions.ConflictMode"/>); or it searches over learning
/// directions, trying candidate updates on held-out probes and keeping the best
/// (<see cref="AlternatingOptimizerOptions.DirectionSearch"/>).
/// </summary>
/// <remarks>
/// Every step runs inside its own TorchSharp dispose scope, so the batches it pulls and the tensors it creates are
/// freed when it ends. A NaN or infinite loss or gradient norm throws <see cref="NonFiniteLossException"/> before the
/// update: the parameters and optimizer state stay as they were. Not thread-safe; a step must not span an await.
/// </remarks>
public sealed class AlternatingOptimizer : IDisposable
{
    private readonly IStudent _student;
    private readonly ICompetenceObjective? _competence;
    private readonly IConformityObjective? _conformity;
    private readonly IReferencePolicy? _reference;
    private readonly AlternatingOptimizerOptions _options;
    private readonly ILogger _logger;
    private readonly IReadOnlyList<Parameter> _parameters;
    private readonly IParameterUpdater _updater;
    private readonly DirectionSearchState? _search;
    private bool _disposed;

    /// <summary>Creates the optimizer; validates the options.</summary>
    /// <param name="student">The student to train.</param>
    /// <param name="competence">Task loss; null when the schedule never plans a competence step.</param>
    /// <param name="conformity">Preference loss; null when the schedule never plans a conformity step.</param>
    /// <param name="options">Options (validated here).</param>
    /// <param name="reference">
    /// Reference policy for objectives that need one and batches that carry no cached reference log-probs. Not owned:
    /// dispose it yourself.
    /// </param>
    /// <param name="logger">Optional logger.</param>
    public AlternatingOptimizer(
        IStudent student,
        ICompetenceObjective? competence,
        IConformityObjective? conformity,
        AlternatingOptimizerOptions options,
        IReferencePolicy? reference = null,
        ILogger<AlternatingOptimizer>? logger = null)
    {
        _student = student ?? throw new ArgumentNullException(nameof(student));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
        if (competence is null && conformity is null)
            throw new ArgumentException("At least one of the competence and conformity objectives is needed.", nameof(competence));
        _competence = competence;
        _conformity = conformity;
        _reference = reference;
        _logger = logger ?? NullLogger<AlternatingOptimizer>.Instance;
        _parameters = student.Parameters();
        if (_parameters.Count == 0) throw new ArgumentException("The student has no trainable parameters.", nameof(student));
        var adam = new AdamWSettings(options.Beta1, options.Beta2, options.Epsilon, options.WeightDecay);
        string? why = null;
        if (options.FlatParameterBuffer && FlatAdamW.CanFlatten(_parameters, out why))
        {
            _updater = new FlatAdamW(_parameters, adam);
        }
        else
        {
            if (options.FlatParameterBuffer)
                _logger.LogInformation("Using TorchSharp's AdamW instead of the flat-buffer update: {Reason}", why);
            _updater = new TorchAdamW(_parameters, options.LearningRate, adam);
        }
        if (options.DirectionSearch is { } search)
        {
            if (competence is null || conformity is null)
                throw new ArgumentException(
                    $"{nameof(AlternatingOptimizerOptions.DirectionSearch)} scores every candidate on both objectives: give both the competence and the conformity objective.",
                    competence is null ? nameof(competence) : nameof(conformity));
            if (_updater is not FlatAdamW)
            {
                _updater.Dispose();
                throw new ArgumentException(
                    $"{nameof(AlternatingOptimizerOptions.DirectionSearch)} tries candidate updates on a saved copy of the optimizer state, which needs the flat parameter buffer: " +
                    $"set {nameof(AlternatingOptimizerOptions.FlatParameterBuffer)} = true and give the student parameters of one floating-point dtype and device" +
                    (why is null ? "." : $" ({why})."), nameof(options));
            }
            _search = new DirectionSearchState(search);
        }
    }

    /// <summary>
    /// The win counts and cost of the direction search so far; null without
    /// <see cref="AlternatingOptimizerOptions.DirectionSearch"/>.
    /// </summary>
    public DirectionSearchStatistics? DirectionSearchStatistics => _search?.Statistics();

    /// <summary>Updates done so far.</summary>
    public long StepsDone { get; private set; }

    /// <summary>The options in force.</summary>
    public AlternatingOptimizerOptions Options => _options;

    /// <summary>The student being trained.</summary>
    public IStudent Student => _student;

    /// <summary>
    /// Runs one update: asks the schedule for the phase, pulls <see cref="AlternatingOptimizerOptions.GradientAccumulationSteps"/>
    /// micro-batches from the source(s) the phase needs, and applies one AdamW update.
    /// </summary>
    /// <remarks>
    /// With <see cref="AlternatingOptimizerOptions.ConflictDiagnostics"/> a single-phase step also pulls one batch from
    /// the other objective's source (when given) to measure the gradient conflict; with a
    /// <see cref="AlternatingOptimizerOptions.ConflictMode"/> a step that trains both losses combines their separate
    /// gradients as that mode says, before clipping.
    /// </remarks>
    /// <exception cref="InvalidOperationException">The phase needs a source or objective that was not given.</exception>
    /// <exception cref="NonFiniteLossException">A loss or a gradient norm is NaN or infinite (no update is made).</exception>
    public StepReport Step(IBatchSource<SupervisedBatch>? competenceData, IBatchSource<PreferenceBatch>? conformityData, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        cancellationToken.ThrowIfCancellationRequested();
        var watch = Stopwatch.StartNew();
        long step = StepsDone;
        if (_search is not null && _search.IsDue(step)) return SearchStep(competenceData, conformityData, watch, cancellationToken);
        var plan = _search?.Current.Plan ?? _options.Schedule.Plan(step, _options.TotalSteps);
        bool doCompetence = plan.Phase != TrainingPhase.Conformity && plan.CompetenceWeight > 0;
        bool doConformity = plan.Phase != TrainingPhase.Competence && plan.ConformityWeight > 0;
        if (doCompetence) Require(_competence, competenceData, "competence", plan.Phase);
        if (doConformity) Require(_conformity, conformityData, "conformity", plan.Phase);
        // Both gradients, kept apart, on a step that trains both losses: for a conflict mode or for the diagnostics.
        bool separate = doCompetence && doConformity && (_options.ConflictMode != ConflictMode.None || _options.ConflictDiagnostics);
        // On a single-phase step the diagnostics borrow one batch of the other objective, when it can be had.
        bool probe = _options.ConflictDiagnostics && doCompetence != doConformity
            && (doCompetence ? _conformity is not null && conformityData is not null : _competence is not null && competenceData is not null);

        using var scope = NewDisposeScope();
        _student.SetTraining(true);
        _updater.ZeroGrad();
        var sums = new StepSums(step, plan, new TrainingProgress(step, _options.TotalSteps), _options.GradientAccumulationSteps);
        try
        {
            if (separate)
            {
                CombineSeparateGradients(sums, competenceData!, conformityData!);
            }
            else
            {
                // Diagnostics on a single-phase step: the other objective's gradient on one borrowed batch is set aside
                // first, so the step's own gradients then accumulate exactly as without diagnostics.
                var other = probe ? ProbeOtherObjective(sums, doCompetence ? null : competenceData, doCompetence ? conformityData : null) : null;
                AccumulateGradients(sums, doCompetence ? competenceData : null, doConformity ? conformityData : null, plan.CompetenceWeight, plan.ConformityWeight);
                if (other is not null) MeasureAgainst(other, sums, doCompetence);
            }

            double gradNorm = _updater.ClipGradients(_options.MaxGradientNorm);
            Check(gradNorm, step, plan.Phase, "gradient norm");
            double lr = LearningRateSchedule.At(step, _options.TotalSteps, _options.LearningRate, _options.WarmupSteps, _options.Decay, _options.MinLearningRateRatio);
            _updater.Step(lr);
            StepsDone++;
            _reference?.AfterUpdate(_student, StepsDone);

            var report = new StepReport(step, plan.Phase, sums.Total,
                doCompetence ? sums.Competence : null,
                doConformity ? sums.Conformity : null,
                gradNorm, lr, watch.Elapsed, sums.Metrics);
            _search?.RecordPlainStep(report.Elapsed.TotalSeconds);
            Log(report);
            return report;
        }
        catch
        {
            // Nothing was applied: drop the partial gradients so a retry starts clean.
            _updater.ZeroGrad();
            throw;
        }
    }

    /// <summary>
    /// A direction-search step: g_c and g_f on the step's batches (kept apart, as a joint step with conflict
    /// diagnostics computes them), then for each candidate its update on the saved state, scored on the probe batches
    /// and undone; the winner's update is applied last, exactly as a plain step with its plan would apply it.
    /// </summary>
    private StepReport SearchStep(IBatchSource<SupervisedBatch>? competenceData, IBatchSource<PreferenceBatch>? conformityData,
        Stopwatch watch, CancellationToken cancellationToken)
    {
        long step = StepsDone;
        var search = _search!;
        var options = search.Options;
        if (competenceData is null || conformityData is null)
            throw new InvalidOperationException(
                $"Step {step} is a direction-search step, which needs the step's gradients of both objectives: pass both the competence and the conformity batch source to Step.");
        var flat = (FlatAdamW)_updater;
        using var scope = NewDisposeScope();
        _student.SetTraining(true);
        _updater.ZeroGrad();
        // Both losses with unit weight; the winner's weights enter when the winner is known.
        var sums = new StepSums(step, new PhasePlan(TrainingPhase.Joint, 1, 1), new TrainingProgress(step, _options.TotalSteps), _options.GradientAccumulationSteps);
        FlatAdamWState? saved = null;
        bool applied = false;
        try
        {
            AccumulateGradients(sums, competenceData, null, 1, 0);
            var competence = GradientSnapshot.Take(_updater.Gradients());
            GradientSnapshot.ZeroInPlace(_updater.Gradients());
            AccumulateGradients(sums, null, conformityData, 0, 1);
            var conformity = GradientSnapshot.Take(_updater.Gradients());
            var (cc, ff, cf) = competence.Inner(_updater.Gradients());
            var geometry = Measured(new GradientGeometry(cc, ff, cf), sums);

            var competenceProbes = Enumerable.Range(0, options.ProbeBatches).Select(_ => options.CompetenceProbes!.Next()).ToList();
            var conformityProbes = Enumerable.Range(0, options.ProbeBatches).Select(_ => options.ConformityProbes!.Next()).ToList();
            var before = ProbeLosses(competenceProbes, conformityProbes, sums.Progress);
            Check(before.Competence, step, TrainingPhase.Joint, "competence probe loss");
            Check(before.Conformity, step, TrainingPhase.Joint, "conformity probe loss");

            double lr = LearningRateSchedule.At(step, _options.TotalSteps, _options.LearningRate, _options.WarmupSteps, _options.Decay, _options.MinLearningRateRatio);
            saved = flat.Save();
            var after = new List<(double Competence, double Conformity)>(options.Candidates.Count);
            foreach (var candidate in options.Candidates)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var (norm, _) = WriteDirection(candidate, competence, conformity, geometry);
                if (double.IsFinite(norm))
                {
                    _updater.Step(lr);
                    after.Add(ProbeLosses(competenceProbes, conformityProbes, sums.Progress));
                    flat.Restore(saved);
                }
                else
                {
                    after.Add((double.NaN, double.NaN));
                }
            }
            var verdict = DirectionSearchRule.Choose(before.Competence, before.Conformity, after, options.Choice,
                options.CompetencePreference, options.ConformityPreference);
            var winner = options.Candidates[verdict.Index];
            if (double.IsPositiveInfinity(verdict.Scores[verdict.Index]))
                throw new NonFiniteLossException(step, winner.Phase, "probe losses after every direction-search candidate", double.NaN);

            var (gradNorm, combination) = WriteDirection(winner, competence, conformity, geometry);
            Check(gradNorm, step, winner.Phase, "gradient norm");
            _updater.Step(lr);
            applied = true;
            StepsDone++;
            _reference?.AfterUpdate(_student, StepsDone);

            if (winner.Phase == TrainingPhase.Joint && _options.ConflictMode == ConflictMode.ProjectConflicting)
                sums.Metrics[MetricNames.ConflictProjected] = combination.Projected ? 1 : 0;
            else if (winner.Phase == TrainingPhase.Joint && _options.ConflictMode == ConflictMode.MinNorm)
                sums.Metrics[MetricNames.ConflictMinNormAlpha] = combination.MinNormAlpha;
            sums.Metrics[MetricNames.SearchWinner] = verdict.Index;
            sums.Metrics[MetricNames.SearchParetoImprovement] = verdict.ParetoImprovement ? 1 : 0;
            sums.Metrics[MetricNames.SearchProbeCompetence] = before.Competence;
            sums.Metrics[MetricNames.SearchProbeConformity] = before.Conformity;
            sums.Metrics[MetricNames.SearchCompetenceChange] = after[verdict.Index].Competence - before.Competence;
            sums.Metrics[MetricNames.SearchConformityChange] = after[verdict.Index].Conformity - before.Conformity;
            double loss = winner.CompetenceWeight * sums.Competence + winner.ConformityWeight * sums.Conformity;
            var report = new StepReport(step, winner.Phase, loss, sums.Competence, sums.Conformity, gradNorm, lr, watch.Elapsed, sums.Metrics);
            search.RecordSearch(verdict, report.Elapsed.TotalSeconds);
            Log(report);
            return report;
        }
        catch
        {
            // A trial may have been in flight: put the state back as it was before the step.
            if (saved is not null && !applied) flat.Restore(saved);
            _updater.ZeroGrad();
            throw;
        }
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
            foreach (var batch in competenceProbes) c += ScalarOf(CompetenceLoss(batch, progress).Loss, "competence probe loss") / competenceProbes.Count;
            foreach (var batch in conformityProbes) f += ScalarOf(ConformityLoss(batch).Loss, "conformity probe loss") / conformityProbes.Count;
            return (c, f);
        }
        finally
        {
            _student.SetTraining(true);
        }
    }

    private static double ScalarOf(Tensor loss, string what) => RequireScalar(loss, what).ToDouble();

    // Every loss the optimizer reads must be one value; the message names which loss was not.
    private static Tensor RequireScalar(Tensor loss, string what) =>
        loss.numel() == 1 ? loss : throw new InvalidOperationException($"The {what} must be a scalar; got shape [{string.Join(", ", loss.shape)}].");

    /// <summary>
    /// Runs updates until <see cref="AlternatingOptimizerOptions.TotalSteps"/> are done, reporting each to
    /// <paramref name="progress"/>. Returns the reports of the updates run by this call.
    /// </summary>
    public IReadOnlyList<StepReport> Train(
        IBatchSource<SupervisedBatch>? competenceData,
        IBatchSource<PreferenceBatch>? conformityData,
        IProgress<StepReport>? progress = null,
        CancellationToken cancellationToken = default)
    {
        var reports = new List<StepReport>();
        while (StepsDone < _options.TotalSteps)
        {
            var report = Step(competenceData, conformityData, cancellationToken);
            reports.Add(report);
            progress?.Report(report);
        }
        return reports;
    }

    /// <summary>
    /// Runs the step's micro-batches of the objectives whose source is given and backpropagates
    /// Σ (w_c·L_c + w_f·L_f) / N into the gradients, with the gradient weights given (the schedule's weights, or 1 and 0
    /// when the gradients are kept apart); losses and metrics are added to <paramref name="sums"/> with the plan's weights.
    /// </summary>
    private void AccumulateGradients(StepSums sums, IBatchSource<SupervisedBatch>? competenceData, IBatchSource<PreferenceBatch>? conformityData,
        double competenceGradientWeight, double conformityGradientWeight)
    {
        int micro = sums.Micro;
        var plan = sums.Plan;
        for (int m = 0; m < micro; m++)
        {
            using var microScope = NewDisposeScope();
            Tensor? loss = null;
            if (competenceData is not null)
            {
                var (lc, metrics) = CompetenceLoss(competenceData.Next(), sums.Progress);
                double value = Read(lc, metrics, sums, "competence loss");
                sums.Competence += value / micro;
                sums.Total += plan.CompetenceWeight * value / micro;
                loss = Scaled(lc, competenceGradientWeight / micro);
            }
            if (conformityData is not null)
            {
                var (lf, metrics) = ConformityLoss(conformityData.Next());
                double value = Read(lf, metrics, sums, "conformity loss");
                sums.Conformity += value / micro;
                sums.Total += plan.ConformityWeight * value / micro;
                var weighted = Scaled(lf, conformityGradientWeight / micro);
                loss = loss is null ? weighted : loss + weighted;
            }
            loss!.backward();
        }
    }

    /// <summary>
    /// A step that trains both losses, with their gradients kept apart: g_c (all micro-batches) is set aside, g_f
    /// accumulates in the gradients, and the gradients become d = a·g_c + b·g_f as <see cref="AlternatingOptimizerOptions.ConflictMode"/>
    /// says (for <see cref="ConflictMode.None"/>, the weighted sum). Clipping comes after, on d.
    /// </summary>
    private void CombineSeparateGradients(StepSums sums, IBatchSource<SupervisedBatch> competenceData, IBatchSource<PreferenceBatch> conformityData)
    {
        // Unweighted: the schedule's weights enter when the two are combined.
        AccumulateGradients(sums, competenceData, null, 1, 0);
        var competence = GradientSnapshot.Take(_updater.Gradients());
        GradientSnapshot.ZeroInPlace(_updater.Gradients());
        AccumulateGradients(sums, null, conformityData, 0, 1);
        var (cc, ff, cf) = competence.Inner(_updater.Gradients());
        var geometry = Measured(new GradientGeometry(cc, ff, cf), sums);
        var combination = GradientConflict.Combine(geometry, sums.Plan.CompetenceWeight, sums.Plan.ConformityWeight, _options.ConflictMode);
        competence.CombineInto(_updater.Gradients(), combination.CompetenceCoefficient, combination.ConformityCoefficient);
        if (_options.ConflictMode == ConflictMode.ProjectConflicting)
            sums.Metrics[MetricNames.ConflictProjected] = combination.Projected ? 1 : 0;
        else if (_options.ConflictMode == ConflictMode.MinNorm)
            sums.Metrics[MetricNames.ConflictMinNormAlpha] = combination.MinNormAlpha;
    }

    /// <summary>
    /// The gradient of the other objective's unweighted loss on one batch of its source, copied out of the gradients,
    /// which are then zeroed again. Its loss and metrics are not reported: the step does not train on it.
    /// </summary>
    private GradientSnapshot ProbeOtherObjective(StepSums sums, IBatchSource<SupervisedBatch>? competenceData, IBatchSource<PreferenceBatch>? conformityData)
    {
        using (NewDisposeScope())
        {
            var loss = competenceData is not null
                ? CompetenceLoss(competenceData.Next(), sums.Progress).Loss
                : ConformityLoss(conformityData!.Next()).Loss;
            Check(loss, sums.Step, sums.Plan.Phase, competenceData is not null ? "competence loss (conflict diagnostics)" : "conformity loss (conflict diagnostics)");
            loss.backward();
        }
        var other = GradientSnapshot.Take(_updater.Gradients());
        GradientSnapshot.ZeroInPlace(_updater.Gradients());
        return other;
    }

    /// <summary>
    /// Reports the geometry of the probed gradient of the other objective against the step's own, which the
    /// gradients hold scaled by the phase's weight w.
    /// </summary>
    private void MeasureAgainst(GradientSnapshot other, StepSums sums, bool competenceStep)
    {
        var (oo, pp, op) = other.Inner(_updater.Gradients());
        double w = competenceStep ? sums.Plan.CompetenceWeight : sums.Plan.ConformityWeight;
        var (ownSq, dot) = (pp / (w * w), op / w);
        Measured(competenceStep ? new GradientGeometry(ownSq, oo, dot) : new GradientGeometry(oo, ownSq, dot), sums);
    }

    /// <summary>Checks the two gradient norms and adds the geometry's metrics to the step's.</summary>
    private static GradientGeometry Measured(GradientGeometry g, StepSums sums)
    {
        Check(g.CompetenceNorm, sums.Step, sums.Plan.Phase, "competence gradient norm");
        Check(g.ConformityNorm, sums.Step, sums.Plan.Phase, "conformity gradient norm");
        Check(g.Dot, sums.Step, sums.Plan.Phase, "dot product of the competence and conformity gradients");
        sums.Metrics[MetricNames.ConflictCosine] = g.Cosine;
        sums.Metrics[MetricNames.ConflictDot] = g.Dot;
        sums.Metrics[MetricNames.ConflictCompetenceNorm] = g.CompetenceNorm;
        sums.Metrics[MetricNames.ConflictConformityNorm] = g.ConformityNorm;
        return g;
    }

    /// <summary>What a step adds up over its micro-batches.</summary>
    private sealed class StepSums(long step, PhasePlan plan, TrainingProgress progress, int micro)
    {
        public long Step { get; } = step;
        public PhasePlan Plan { get; } = plan;
        public TrainingProgress Progress { get; } = progress;
        public int Micro { get; } = micro;
        public double Total { get; set; }
        public double Competence { get; set; }
        public double Conformity { get; set; }
        public Dictionary<string, double> Metrics { get; } = new(StringComparer.Ordinal);
    }

    private (Tensor Loss, Dictionary<string, Tensor> Metrics) CompetenceLoss(SupervisedBatch batch, TrainingProgress progress)
    {
        ArgumentNullException.ThrowIfNull(batch);
        batch = batch.To(_student.Device);
        batch.Validate();
        var responses = batch.Responses;
        var logits = _student.Logits(responses);
        CheckLogits(logits, responses);
        var soft = batch.SoftTargets is { } s && s.dim() == 2 ? s.unsqueeze(1) : batch.SoftTargets;
        if (_competence!.RequiresSoftTargets && soft is null)
            throw new ArgumentException($"The competence objective '{_competence.Name}' trains on soft labels, but the batch has no SoftTargets.", nameof(batch));
        var loss = _competence.Loss(new CompetenceInput(logits, responses.Targets, responses.Mask, soft, progress));
        using var _ = no_grad();
        var hits = (logits.argmax(-1) == responses.Targets).to_type(ScalarType.Float32) * responses.Mask;
        var metrics = new Dictionary<string, Tensor>(StringComparer.Ordinal)
        {
            [MetricNames.CompetenceAccuracy] = hits.sum() / responses.Mask.sum().clamp_min(1),
        };
        return (loss, metrics);
    }

    private (Tensor Loss, Dictionary<string, Tensor> Metrics) ConformityLoss(PreferenceBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        batch = batch.To(_student.Device);
        batch.Validate();
        var (pc, pr) = LogProbs.Pair(_student, batch);
        Tensor? rc = null, rr = null;
        if (batch.HasCachedReference && (_reference is null || _reference.IsStatic))
        {
            (rc, rr) = (batch.ReferenceChosen!, batch.ReferenceRejected!);
        }
        else if (_reference is not null && (_conformity!.RequiresReference || batch.HasCachedReference))
        {
            (rc, rr) = _reference.LogProbs(batch);
        }
        else if (_conformity!.RequiresReference)
        {
            throw new InvalidOperationException(
                $"The conformity objective '{_conformity.Name}' needs reference log-probs: pass a reference policy to the optimizer or cache them with PreferenceDataset.WithReferenceLogProbs.");
        }
        var logps = new PreferenceLogProbs(pc, pr, rc, rr,
            batch.Chosen.Lengths().clamp_min(1), batch.Rejected.Lengths().clamp_min(1));
        var result = _conformity!.Compute(logps);
        using var _ = no_grad();
        var chosen = result.ChosenRewards.detach();
        var rejected = result.RejectedRewards.detach();
        var metrics = new Dictionary<string, Tensor>(StringComparer.Ordinal)
        {
            [MetricNames.RewardsChosen] = chosen.mean(),
            [MetricNames.RewardsRejected] = rejected.mean(),
            [MetricNames.RewardsMargins] = (chosen - rejected).mean(),
            [MetricNames.RewardsAccuracies] = (chosen > rejected).to_type(ScalarType.Float32).mean(),
            [MetricNames.LogpsChosen] = pc.detach().mean(),
            [MetricNames.LogpsRejected] = pr.detach().mean(),
        };
        return (result.Loss, metrics);
    }

    private static void CheckLogits(Tensor logits, ResponseBatch batch)
    {
        if (logits.dim() != 3 || logits.shape[0] != batch.Targets.shape[0] || logits.shape[1] != batch.Targets.shape[1])
            throw new InvalidOperationException(
                $"The student returned logits of shape [{string.Join(", ", logits.shape)}]; expected [{batch.Targets.shape[0]}, {batch.Targets.shape[1]}, V] to match the targets.");
    }

    private static void Require(object? objective, object? source, string what, TrainingPhase phase)
    {
        if (objective is null)
            throw new InvalidOperationException($"The schedule planned a {phase} step, but no {what} objective was given to the optimizer.");
        if (source is null)
            throw new InvalidOperationException($"The schedule planned a {phase} step, but no {what} batch source was passed to Step.");
    }

    private static double Check(Tensor loss, long step, TrainingPhase phase, string what) =>
        Check(RequireScalar(loss, what).ToDouble(), step, phase, what);

    private static double Check(double value, long step, TrainingPhase phase, string what) =>
        double.IsFinite(value) ? value : throw new NonFiniteLossException(step, phase, what, value);

    // A factor of exactly 1 adds no node to the graph (the common case: weight 1, no accumulation).
    private static Tensor Scaled(Tensor loss, double factor) => factor == 1 ? loss : loss * factor;

    /// <summary>
    /// The micro-batch's loss value (checked: a finite scalar) and its metrics, added to <paramref name="sums"/>, brought
    /// to the host in one copy: on small models every tensor call and read-back is a visible share of the step.
    /// </summary>
    private static double Read(Tensor loss, Dictionary<string, Tensor> metrics, StepSums sums, string what)
    {
        var names = metrics.Keys.ToArray();
        var parts = new Tensor[names.Length + 1];
        var detached = RequireScalar(loss, what).detach();
        parts[0] = detached.dim() == 0 ? detached : detached.reshape(Array.Empty<long>());
        for (int i = 0; i < names.Length; i++)
        {
            var m = metrics[names[i]];
            parts[i + 1] = m.dim() == 0 ? m : m.reshape(Array.Empty<long>());
        }
        var dtype = parts[0].dtype;
        if (dtype is not (ScalarType.Float32 or ScalarType.Float64) || parts.Any(p => p.dtype != dtype))
        {
            for (int i = 0; i < parts.Length; i++) parts[i] = parts[i].to_type(ScalarType.Float64);
            dtype = ScalarType.Float64;
        }
        using var host = stack(parts).cpu();
        double[] values = dtype == ScalarType.Float32 ? host.data<float>().Select(v => (double)v).ToArray() : host.data<double>().ToArray();
        double value = Check(values[0], sums.Step, sums.Plan.Phase, what);
        for (int i = 0; i < names.Length; i++)
            sums.Metrics[names[i]] = sums.Metrics.GetValueOrDefault(names[i]) + values[i + 1] / sums.Micro;
        return value;
    }

    private void Log(StepReport report)
    {
        if (_options.LogEvery > 0 && (report.Step + 1) % _options.LogEvery == 0)
            _logger.LogInformation("{Report}", report);
        else if (_logger.IsEnabled(LogLevel.Debug))
            _logger.LogDebug("{Report}", report);
    }

    /// <summary>Disposes the optimizer state (not the student, objectives or reference).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _updater.Dispose();
        _disposed = true;
    }
}
