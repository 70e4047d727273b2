using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Superalign.Data;
using Superalign.Objectives;
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
    private readonly IParameterUpdater _updater;
    private readonly StepLosses _losses;
    private readonly ConflictAwareGradients _conflicts;
    private readonly DirectionSearchStep? _search;
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
        // Checked before the updater exists, so that a rejected configuration leaves nothing to dispose.
        if (options.DirectionSearch is not null && (competence is null || conformity is null))
            throw new ArgumentException(
                $"{nameof(AlternatingOptimizerOptions.DirectionSearch)} scores every candidate on both objectives: give both the competence and the conformity objective.",
                competence is null ? nameof(competence) : nameof(conformity));
        _competence = competence;
        _conformity = conformity;
        _reference = reference;
        _logger = logger ?? NullLogger<AlternatingOptimizer>.Instance;
        _losses = new StepLosses(student, competence, conformity, reference);
        var parameters = student.Parameters();
        if (parameters.Count == 0) throw new ArgumentException("The student has no trainable parameters.", nameof(student));
        var adam = new AdamWSettings(options.Beta1, options.Beta2, options.Epsilon, options.WeightDecay);
        string? why = null;
        if (options.FlatParameterBuffer && FlatAdamW.CanFlatten(parameters, out why))
        {
            _updater = new FlatAdamW(parameters, adam);
        }
        else
        {
            if (options.FlatParameterBuffer)
                _logger.LogInformation("Using TorchSharp's AdamW instead of the flat-buffer update: {Reason}", why);
            _updater = new TorchAdamW(parameters, options.LearningRate, adam);
        }
        _conflicts = new ConflictAwareGradients(_losses, _updater, options.ConflictMode);
        if (options.DirectionSearch is { } search)
        {
            if (_updater is not FlatAdamW flat)
            {
                _updater.Dispose();
                throw new ArgumentException(
                    $"{nameof(AlternatingOptimizerOptions.DirectionSearch)} tries candidate updates on a saved copy of the optimizer state, which needs the flat parameter buffer: " +
                    $"set {nameof(AlternatingOptimizerOptions.FlatParameterBuffer)} = true and give the student parameters of one floating-point dtype and device" +
                    (why is null ? "." : $" ({why})."), nameof(options));
            }
            _search = new DirectionSearchStep(search, options, student, _losses, flat);
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
        if (_search is not null && _search.IsDue(step)) return _search.Run(step, competenceData, conformityData, watch, Applied, Log, cancellationToken);
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
                _conflicts.CombineSeparate(sums, competenceData!, conformityData!);
            }
            else
            {
                // Diagnostics on a single-phase step: the other objective's gradient on one borrowed batch is set aside
                // first, so the step's own gradients then accumulate exactly as without diagnostics.
                var other = probe ? _conflicts.ProbeOtherObjective(sums, doCompetence ? null : competenceData, doCompetence ? conformityData : null) : null;
                _losses.Accumulate(sums, doCompetence ? competenceData : null, doConformity ? conformityData : null, plan.CompetenceWeight, plan.ConformityWeight);
                if (other is not null) _conflicts.MeasureAgainst(other, sums, doCompetence);
            }

            double gradNorm = _updater.ClipGradients(_options.MaxGradientNorm);
            StepLosses.Check(gradNorm, step, plan.Phase, "gradient norm");
            double lr = _options.LearningRateAt(step);
            _updater.Step(lr);
            Applied();

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

    /// <summary>Counts an update that was just applied and lets the reference policy follow the student.</summary>
    private void Applied()
    {
        StepsDone++;
        _reference?.AfterUpdate(_student, StepsDone);
    }

    private static void Require(object? objective, object? source, string what, TrainingPhase phase)
    {
        if (objective is null)
            throw new InvalidOperationException($"The schedule planned a {phase} step, but no {what} objective was given to the optimizer.");
        if (source is null)
            throw new InvalidOperationException($"The schedule planned a {phase} step, but no {what} batch source was passed to Step.");
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
