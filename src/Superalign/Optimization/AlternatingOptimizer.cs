using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Superalign.Checkpoints;
using Superalign.Data;
using Superalign.Objectives;
using Superalign.Runtime;
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
    private readonly Tensor[] _buffers;
    private bool _disposed;
    private readonly RemainingTime _remaining = new();
    private bool _paceStarted;

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
        // Looked up once: enumerating a module's buffers on every step costs more than the step's checks.
        _buffers = BufferSnapshot.Of(student);
        var parameters = student.Parameters();
        if (parameters.Count == 0) throw new ArgumentException("The student has no trainable parameters.", nameof(student));
        CheckScalars(options, parameters);
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
    /// <exception cref="InvalidBatchException">A batch does not fit the student (the message names the field); no update is made.</exception>
    /// <exception cref="NonFiniteLossException">
    /// A loss, a gradient norm or the update's result is NaN or infinite (no update is made; buffers are put back).
    /// </exception>
    public StepReport Step(IBatchSource<SupervisedBatch>? competenceData, IBatchSource<PreferenceBatch>? conformityData, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        cancellationToken.ThrowIfCancellationRequested();
        // A failed step leaves the student's buffers (BatchNorm statistics) as they were, like its parameters.
        using var buffers = BufferSnapshot.Take(_buffers);
        try
        {
            return StepCore(competenceData, conformityData, cancellationToken);
        }
        catch
        {
            buffers?.Restore();
            throw;
        }
    }

    private StepReport StepCore(IBatchSource<SupervisedBatch>? competenceData, IBatchSource<PreferenceBatch>? conformityData, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        long step = StepsDone;
        if (!_paceStarted)
        {
            // The pace for the log line's ETA counts the updates of this process from here (a resumed run included).
            _remaining.Restart();
            _remaining.Estimate(step, _options.TotalSteps);
            _paceStarted = true;
        }
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
            if (!_updater.Step(lr)) throw new NonFiniteLossException(step, plan.Phase, "parameters or second moments after the AdamW update", double.NaN);
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

    /// <summary>
    /// Like <see cref="Train(IBatchSource{SupervisedBatch}?, IBatchSource{PreferenceBatch}?, IProgress{StepReport}?, CancellationToken)"/>,
    /// writing a checkpoint of the whole run state every <see cref="TrainingCheckpoints.Every"/> updates and after the
    /// last; with <see cref="TrainingCheckpoints.Resume"/> it first resumes from the newest valid checkpoint in the
    /// directory (a damaged one is skipped with a warning), so a run killed at any point and started again with the
    /// same code, options and data ends with the same weights, bit for bit (same device and thread count).
    /// </summary>
    /// <remarks>
    /// Everything is checked before the first update: that every part can be checkpointed (the student, the reference
    /// policy, each batch source — a source made by <see cref="BatchSource.From{T}"/> cannot; see
    /// <see cref="ICheckpointable"/>) and that the directory is writable.
    /// </remarks>
    /// <returns>The reports of the updates run by this call (none when the newest checkpoint is already the end).</returns>
    /// <exception cref="NotSupportedException">A part of the run cannot be checkpointed (the message names it).</exception>
    public IReadOnlyList<StepReport> Train(
        IBatchSource<SupervisedBatch>? competenceData,
        IBatchSource<PreferenceBatch>? conformityData,
        TrainingCheckpoints checkpoints,
        IProgress<StepReport>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(checkpoints);
        checkpoints.Validate();
        var parts = CheckpointParts(competenceData, conformityData, checkpoints.Extras);
        string dir = Path.GetFullPath(checkpoints.Directory);
        PrepareDirectory(dir);
        if (checkpoints.Resume) ResumeFromNewest(dir, parts);
        var reports = new List<StepReport>();
        while (StepsDone < _options.TotalSteps)
        {
            var report = Step(competenceData, conformityData, cancellationToken);
            reports.Add(report);
            progress?.Report(report);
            if (StepsDone % checkpoints.Every == 0 || StepsDone == _options.TotalSteps)
                WriteCheckpoint(dir, parts, checkpoints.KeepLast);
        }
        return reports;
    }

    /// <summary>The section names of a training checkpoint's built-in parts; <see cref="TrainingCheckpoints.Extras"/> must use others.</summary>
    public static IReadOnlyList<string> CheckpointSections { get; } =
        ["optimizer", "student", "reference", "rng", "competence-data", "conformity-data", "competence-probes", "conformity-probes"];

    /// <summary>
    /// Writes the whole run state to <paramref name="path"/>, atomically: the student, the optimizer (AdamW moments,
    /// updates done, direction-search state), the reference policy, libtorch's CPU generator, the batch sources'
    /// positions and <paramref name="extras"/>.
    /// </summary>
    /// <exception cref="NotSupportedException">A part cannot be checkpointed (the message names it); nothing is written.</exception>
    public void SaveCheckpoint(string path, IBatchSource<SupervisedBatch>? competenceData, IBatchSource<PreferenceBatch>? conformityData,
        IReadOnlyDictionary<string, ICheckpointable>? extras = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Checkpoint.Save(path, CheckpointParts(competenceData, conformityData, extras));
    }

    /// <summary>
    /// Restores the run state written by <see cref="SaveCheckpoint"/>, all or nothing: the file is verified and every
    /// part checked before anything changes. Pass the same kinds of sources (and extras) as when it was saved.
    /// </summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="CheckpointException">The file is damaged or does not fit this run; nothing was changed.</exception>
    /// <exception cref="NotSupportedException">A part cannot be checkpointed (the message names it).</exception>
    public void LoadCheckpoint(string path, IBatchSource<SupervisedBatch>? competenceData, IBatchSource<PreferenceBatch>? conformityData,
        IReadOnlyDictionary<string, ICheckpointable>? extras = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Checkpoint.Load(path, CheckpointParts(competenceData, conformityData, extras));
        _paceStarted = false; // the ETA's pace starts again from the restored update
    }

    private Dictionary<string, ICheckpointable> CheckpointParts(IBatchSource<SupervisedBatch>? competenceData, IBatchSource<PreferenceBatch>? conformityData,
        IReadOnlyDictionary<string, ICheckpointable>? extras)
    {
        var parts = new Dictionary<string, ICheckpointable>(StringComparer.Ordinal)
        {
            ["optimizer"] = new OptimizerPart(this),
            ["student"] = _student as ICheckpointable ?? throw NotCheckpointable("student", _student.GetType()),
            ["rng"] = TorchRandomState.Cpu,
        };
        if (_reference is not null) parts["reference"] = _reference as ICheckpointable ?? throw NotCheckpointable("reference policy", _reference.GetType());
        if (competenceData is not null) parts["competence-data"] = competenceData as ICheckpointable ?? throw NotCheckpointable("competence batch source", competenceData.GetType());
        if (conformityData is not null) parts["conformity-data"] = conformityData as ICheckpointable ?? throw NotCheckpointable("conformity batch source", conformityData.GetType());
        if (_options.DirectionSearch is { } search)
        {
            parts["competence-probes"] = search.CompetenceProbes as ICheckpointable ?? throw NotCheckpointable("direction search's competence probe source", search.CompetenceProbes!.GetType());
            parts["conformity-probes"] = search.ConformityProbes as ICheckpointable ?? throw NotCheckpointable("direction search's conformity probe source", search.ConformityProbes!.GetType());
        }
        foreach (var (name, part) in extras ?? new Dictionary<string, ICheckpointable>())
        {
            if (CheckpointSections.Contains(name))
                throw new ArgumentException($"The extra checkpoint part '{name}' uses a built-in section name; choose another (built-in: {string.Join(", ", CheckpointSections)}).", nameof(extras));
            parts[name] = part ?? throw new ArgumentNullException(nameof(extras), $"The extra checkpoint part '{name}' is null.");
        }
        return parts;
    }

    private static NotSupportedException NotCheckpointable(string what, Type type) =>
        new($"The {what} ({type.Name}) cannot be checkpointed: it does not implement {nameof(ICheckpointable)}. " +
            "Batch sources from SupervisedDataset/PreferenceDataset.Batches, CurriculumBatches and BatchSource.Cycle can; implement it on your own sources and students.");

    private void PrepareDirectory(string dir)
    {
        Directory.CreateDirectory(dir);
        // A save that fails after an hour of training loses the hour: check now that files can be written here.
        string probe = Path.Combine(dir, $".write-probe.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        File.WriteAllBytes(probe, [1]);
        File.Delete(probe);
        // Temporary files of saves killed midway.
        foreach (var stale in AtomicFile.RemoveStale(dir)) _logger.LogInformation("Deleted {Path}, left by a save that did not finish", stale);
    }

    private void ResumeFromNewest(string dir, Dictionary<string, ICheckpointable> parts)
    {
        foreach (var (steps, path) in TrainingCheckpoints.List(dir))
        {
            try
            {
                Checkpoint.Load(path, parts);
                _logger.LogInformation("Resumed from {Checkpoint} at update {Steps}/{Total}", path, StepsDone, _options.TotalSteps);
                return;
            }
            catch (CheckpointException e)
            {
                _logger.LogWarning("Skipping checkpoint {Checkpoint}: {Reason}", path, e.Message);
            }
        }
    }

    private void WriteCheckpoint(string dir, Dictionary<string, ICheckpointable> parts, int keepLast)
    {
        var watch = Stopwatch.StartNew();
        string path = Path.Combine(dir, TrainingCheckpoints.FileName(StepsDone));
        Checkpoint.Save(path, parts);
        foreach (var (_, old) in TrainingCheckpoints.List(dir).Skip(keepLast))
        {
            try { File.Delete(old); }
            catch (IOException e) { _logger.LogWarning("Could not delete old checkpoint {Checkpoint}: {Reason}", old, e.Message); }
        }
        _logger.LogDebug("Checkpoint {Checkpoint} written in {Seconds:F2} s", path, watch.Elapsed.TotalSeconds);
    }

    /// <summary>The optimizer's own part of a checkpoint: updates done, the updater's state, the direction search's.</summary>
    private sealed class OptimizerPart(AlternatingOptimizer owner) : ICheckpointable
    {
        public void SaveState(CheckpointWriter writer)
        {
            writer.Write("steps", owner.StepsDone);
            writer.Write("total-steps", owner._options.TotalSteps);
            owner._updater.SaveState(writer.Section("updater"));
            owner._search?.SaveState(writer.Section("search"));
        }

        public Action PrepareRestore(CheckpointReader reader)
        {
            long total = reader.ReadInt64("total-steps");
            if (total != owner._options.TotalSteps)
                throw reader.Invalid("total-steps", $"the checkpoint was written for TotalSteps = {total}; this optimizer has {owner._options.TotalSteps}. Resume with the options of the saved run.");
            long steps = reader.ReadInt64("steps", 0, total);
            var updater = owner._updater.PrepareRestore(reader.Section("updater"));
            bool saved = reader.HasSection("search");
            if (saved != owner._search is not null)
                throw reader.Invalid("search", saved ? "the checkpoint holds a direction search's state; this optimizer has no DirectionSearch." : "this optimizer has a DirectionSearch; the checkpoint holds none.");
            var search = owner._search?.PrepareRestore(reader.Section("search"));
            return () =>
            {
                updater();
                search?.Invoke();
                owner.StepsDone = steps;
            };
        }
    }

    /// <summary>Counts an update that was just applied and lets the reference policy follow the student.</summary>
    private void Applied()
    {
        StepsDone++;
        _reference?.AfterUpdate(_student, StepsDone);
    }

    /// <summary>
    /// The scalars AdamW hands to libtorch must fit the parameters' dtype: ε as a normal number (1e-50 is 0 in float32,
    /// and AdamW then divides 0 by 0 wherever a second moment is 0), and the learning rate, its product with the weight
    /// decay and its first-step bias correction lr/(1 − β₁) below the dtype's largest value (libtorch refuses a scalar
    /// that overflows, mid-step).
    /// </summary>
    private static void CheckScalars(AlternatingOptimizerOptions options, IReadOnlyList<TorchSharp.Modules.Parameter> parameters)
    {
        double epsilon = options.Epsilon;
        foreach (var dtype in parameters.Select(p => p.dtype).Distinct())
        {
            var (smallest, largest) = FloatRange.Of(dtype);
            string name = $"{nameof(AlternatingOptimizerOptions)}.{nameof(AlternatingOptimizerOptions.LearningRate)}";
            if (!(options.LearningRate / (1 - options.Beta1) <= largest))
                throw new ArgumentOutOfRangeException(nameof(AlternatingOptimizerOptions.LearningRate), options.LearningRate,
                    $"{name} = {options.LearningRate:R} is too large for the student's {dtype} parameters: the first update's step lr/(1 − Beta1) must stay below {largest:R}.");
            if (!(options.LearningRate * options.WeightDecay <= largest))
                throw new ArgumentOutOfRangeException(nameof(AlternatingOptimizerOptions.LearningRate), options.LearningRate,
                    $"{name} × {nameof(AlternatingOptimizerOptions.WeightDecay)} = {options.LearningRate * options.WeightDecay:R} is too large for the student's {dtype} parameters (largest {largest:R}).");
            if (epsilon < smallest)
                throw new ArgumentOutOfRangeException(nameof(AlternatingOptimizerOptions.Epsilon), epsilon,
                    $"{nameof(AlternatingOptimizerOptions)}.{nameof(AlternatingOptimizerOptions.Epsilon)} = {epsilon:R} is below the smallest normal {dtype} ({smallest:R}), the dtype of the student's parameters: AdamW would divide by zero. Use a value >= {smallest:R} (the default is 1e-8).");
        }
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
        bool information = _options.LogEvery > 0 && (report.Step + 1) % _options.LogEvery == 0;
        if (!information && !_logger.IsEnabled(LogLevel.Debug)) return;
        long done = report.Step + 1, total = _options.TotalSteps;
        string eta = RemainingTime.Format(_remaining.Estimate(done, total));
        _logger.Log(information ? LogLevel.Information : LogLevel.Debug, "update {Done}/{Total} ({Percent:0}%, ETA {Eta}): {Report}",
            done, total, 100.0 * done / Math.Max(1, total), eta, report);
    }

    /// <summary>Disposes the optimizer state (not the student, objectives or reference).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _updater.Dispose();
        _disposed = true;
    }
}
