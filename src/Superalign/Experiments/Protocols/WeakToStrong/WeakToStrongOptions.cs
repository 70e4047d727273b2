using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging.Abstractions;
using Superalign.Experiments.Metrics;
using Superalign.Objectives.Competence;
using Superalign.Supervision;
using Superalign.Experiments.Tasks;
using static TorchSharp.torch;

namespace Superalign.Experiments.Protocols;

/// <summary>
/// Options of <see cref="WeakToStrong"/>; validated when the protocol is constructed (an invalid value throws
/// <see cref="ArgumentOutOfRangeException"/> naming the option).
/// </summary>
public sealed record WeakToStrongOptions : IProtocolOptions
{
    /// <summary>The built-in task (<see cref="RepresentationTask"/>); ignored when a <see cref="WeakToStrongSetup"/> is given.</summary>
    public RepresentationTaskOptions Task { get; init; } = new();

    /// <summary>Trunks of the weak models on the built-in task (linear probes over them). At least one, no repeats.</summary>
    public IReadOnlyList<TrunkSpec> WeakTrunks { get; init; } = TrunkSpec.WeakLadder;

    /// <summary>Trunks of the strong students and ceilings on the built-in task. At least one, no repeats.</summary>
    public IReadOnlyList<TrunkSpec> StrongTrunks { get; init; } = TrunkSpec.StrongLadder;

    /// <summary>Training examples drawn from the built-in task (split 50/50 per seed). At least 4. Default 4000.</summary>
    public int TrainSize { get; init; } = 4000;

    /// <summary>Test examples drawn from the built-in task. At least 10. Default 5000.</summary>
    public int TestSize { get; init; } = 5000;

    /// <summary>
    /// One repetition per seed: the seed fixes the 50/50 split, the batch order and each model's initialisation (and,
    /// with <see cref="TaskInstancePerSeed"/>, the task instance). At least one, no repeats. Default 0, 1, 2.
    /// </summary>
    public IReadOnlyList<int> Seeds { get; init; } = [0, 1, 2];

    /// <summary>
    /// Whether each seed also draws its own instance of the built-in task: seed <c>s</c> runs on a
    /// <see cref="RepresentationTask"/> with <see cref="RepresentationTaskOptions.Seed"/> = <c>Task.Seed + s</c> (its
    /// own h*, transfer head, training and test examples, and trunks pretrained on it). False (default): every seed
    /// shares one instance (<c>Task.Seed</c>) and one set of trunks, so seeds vary only the split, the batch order and
    /// the initialisation, and intervals over seeds describe that one instance. With it, seed <c>s = 0</c> reproduces
    /// the shared instance's seed 0 (same task seed). Ignored with a <see cref="WeakToStrongSetup"/>. Left out of the
    /// options' JSON when false, so runs without it keep their fingerprints.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool TaskInstancePerSeed { get; init; }

    /// <summary>
    /// Several student losses compared within one run: every (weak, strong, seed) trains one student per loss, on the
    /// same split, weak labels and ceiling, so the rows can be paired (<see cref="WeakToStrongResult.LossDifferences"/>).
    /// Each entry is a name <see cref="CompetenceLoss"/> accepts (<c>reweight</c> needs <see cref="TrustedExamples"/>;
    /// the other losses then get the trusted examples as one-hot ground truth, the matched control). The first loss
    /// is the baseline of the differences. Null (default): the one loss <see cref="CompetenceLoss"/>. Left out of the
    /// options' JSON when null.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? CompetenceLosses { get; init; }

    /// <summary>The student losses of the run: <see cref="CompetenceLosses"/>, or <see cref="CompetenceLoss"/> alone.</summary>
    internal IReadOnlyList<string> StudentLosses => CompetenceLosses ?? [CompetenceLoss];

    /// <summary>
    /// Whether the student loss <paramref name="loss"/> takes <see cref="CompetenceOptions"/>: with one loss always
    /// (a misfit is an error); with <see cref="CompetenceLosses"/>, when the objective has every option given (its
    /// values are checked in <see cref="Validate"/>); never <c>reweight</c>.
    /// </summary>
    internal bool TakesCompetenceOptions(string loss)
    {
        if (IsReweight(loss)) return false;
        if (CompetenceLosses is null) return true;
        try
        {
            CompetenceOptions.Create(loss);
            return true;
        }
        catch (ArgumentOutOfRangeException)
        {
            return true; // it takes the options; the value is out of range, which Validate reports
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>Whether <paramref name="loss"/> names <c>reweight</c> (trimmed, any case).</summary>
    internal static bool IsReweight(string? loss) => string.Equals(loss?.Trim(), WeakToStrong.ReweightLoss, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Competence loss of the student on the weak labels: a name of <see cref="CompetenceObjectives.Names"/>, e.g.
    /// <c>xent</c> (soft cross-entropy, default) or <c>logconf</c> (the auxiliary confidence loss); or
    /// <c>reweight</c> (<see cref="WeakToStrong.ReweightLoss"/>): <c>xent</c> with per-example weights learned against
    /// a trusted set (<see cref="LearningToReweightObjective"/>, Ren et al. 2018), which needs
    /// <see cref="TrustedExamples"/>. The weak model and the ceiling always train with <c>ce</c> on ground truth.
    /// </summary>
    public string CompetenceLoss { get; init; } = "xent";

    /// <summary>
    /// Trusted examples: the first <c>N</c> examples of half A (the weak models' half, in the seed's shuffled order)
    /// with their ground-truth labels, at most half A. With <c>reweight</c> (required there) they are its trusted set;
    /// with any other loss they are appended to the student's training data as one-hot labels — the control that gives
    /// an <c>xent</c> or <c>logconf</c> student the same ground truth the <c>reweight</c> student sees. Null (default):
    /// the student sees no ground truth. Left out of the options' JSON when null, so runs without it keep their
    /// fingerprints.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? TrustedExamples { get; init; }

    /// <summary>Whether <see cref="CompetenceLoss"/> names <c>reweight</c> (trimmed, any case).</summary>
    internal bool Reweights => StudentLosses.Any(IsReweight);

    /// <summary>
    /// Options of the student's competence objective <see cref="CompetenceLoss"/>, e.g. <c>logconf</c>'s α, warm-up and
    /// hardening threshold (<see cref="CompetenceObjectiveOptions"/>); every value null (default) keeps the objective's
    /// defaults. An option the objective does not take is an error. With <see cref="CompetenceLosses"/> they apply to
    /// the losses that take every option given (the others keep their defaults), and at least one must.
    /// </summary>
    public CompetenceObjectiveOptions CompetenceOptions { get; init; } = new();

    /// <summary>
    /// Standardise the features per column, <c>(x − μ)/σ</c>, with μ and σ fitted on the training table (both halves;
    /// never the test table) and applied unchanged to the test table (<see cref="Data.FeatureStandardizer"/>). Default
    /// false (the features as given). Meant for your own tabular data (a <see cref="WeakToStrongSetup"/>), where
    /// unscaled columns cost accuracy and can flip the sign of PGR; on the built-in task it also applies, but its trunks
    /// were pretrained on the raw inputs.
    /// </summary>
    public bool StandardizeFeatures { get; init; }

    /// <summary>Training of the weak models (on half A, ground truth, <c>ce</c>); null values take <see cref="Steps"/>, <see cref="LearningRate"/>, <see cref="BatchSize"/>.</summary>
    public TrainingSettings WeakTraining { get; init; } = new();

    /// <summary>Training of the strong students (on half B, weak labels, <see cref="CompetenceLoss"/>); null values take the shared settings.</summary>
    public TrainingSettings StudentTraining { get; init; } = new();

    /// <summary>Training of the strong ceilings (on half B, ground truth, <c>ce</c>); null values take the shared settings.</summary>
    public TrainingSettings CeilingTraining { get; init; } = new();

    /// <summary>Optimizer updates of every training (weak, student, ceiling) unless its own settings say otherwise. At least 1. Default 400.</summary>
    public int Steps { get; init; } = 400;

    /// <summary>Peak AdamW learning rate (cosine decay to zero, no warm-up). Finite and &gt; 0. Default 1e-2.</summary>
    public double LearningRate { get; init; } = 1e-2;

    /// <summary>Examples per batch. At least 1. Default 64.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>
    /// A (weak, strong, seed) row enters PGR medians and means only when <c>ceiling − weak &gt; MinimumGap</c> (the
    /// exclusion rule of <see cref="PerformanceGapRecovered.Compute"/>). Finite and &gt;= 0. Default 0.
    /// </summary>
    public double MinimumGap { get; init; }

    /// <summary>Also train students on an ensemble of diverse weak models (rows with <see cref="SupervisionVariant.Ensemble"/>).</summary>
    public bool Ensemble { get; init; }

    /// <summary>
    /// Weak models per ensemble: member <c>k</c> of a weak model is its factory called with member index <c>k</c>; on
    /// the built-in task, the trunk of the same size with seed <c>+k</c> (separately pretrained). Member 0 is the single
    /// weak supervisor. At least 2. Default 3.
    /// </summary>
    public int EnsembleMembers { get; init; } = 3;

    /// <summary>How the ensemble combines its members' soft labels. Default <see cref="EnsembleCombination.Mean"/>.</summary>
    public EnsembleCombination EnsembleCombination { get; init; } = EnsembleCombination.Mean;

    /// <summary>Resamples of the paired bootstrap interval of each PGR. At least 1. Default 1000.</summary>
    public int BootstrapResamples { get; init; } = 1000;

    /// <summary>Coverage of the bootstrap and t intervals, in (0, 1). Default 0.95.</summary>
    public double ConfidenceLevel { get; init; } = 0.95;

    /// <summary>Device of the built-in task's models: <c>auto</c>, <c>cpu</c>, <c>cuda</c>, <c>cuda:1</c>. Default <c>auto</c>.</summary>
    public string Device { get; init; } = "auto";

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        const string owner = nameof(WeakToStrongOptions);
        if (Task is null) throw new ArgumentOutOfRangeException(nameof(Task), $"{owner}.{nameof(Task)} must not be null.");
        Task.Validate();
        ProtocolCheck.Trunks(WeakTrunks, nameof(WeakTrunks), owner);
        ProtocolCheck.Trunks(StrongTrunks, nameof(StrongTrunks), owner);
        ProtocolCheck.AtLeast(TrainSize, 4, nameof(TrainSize), owner);
        ProtocolCheck.AtLeast(TestSize, 10, nameof(TestSize), owner);
        ProtocolCheck.NotEmpty(Seeds, nameof(Seeds), owner);
        ProtocolCheck.Distinct(Seeds, nameof(Seeds), owner);
        if (CompetenceLosses is not null)
        {
            if (CompetenceLosses.Count == 0 || CompetenceLosses.Any(string.IsNullOrWhiteSpace))
                throw new ArgumentOutOfRangeException(nameof(CompetenceLosses), $"{owner}.{nameof(CompetenceLosses)} must hold at least one loss name (or be null).");
            var names = CompetenceLosses.Select(l => l.Trim().ToLowerInvariant()).ToList();
            if (names.Distinct().Count() != names.Count)
                throw new ArgumentOutOfRangeException(nameof(CompetenceLosses), $"{owner}.{nameof(CompetenceLosses)} must not repeat a loss; got [{string.Join(", ", CompetenceLosses)}].");
            foreach (var loss in CompetenceLosses.Where(l => !IsReweight(l)))
                ProtocolCheck.CompetenceLoss(loss, nameof(CompetenceLosses), owner);
        }
        else if (!Reweights) ProtocolCheck.CompetenceLoss(CompetenceLoss, nameof(CompetenceLoss), owner);
        if (Reweights && TrustedExamples is null)
            throw new ArgumentOutOfRangeException(nameof(TrustedExamples), TrustedExamples,
                $"{owner}.{nameof(TrustedExamples)} is required when {nameof(CompetenceLoss)} is '{WeakToStrong.ReweightLoss}'.");
        if (TrustedExamples is < 1)
            throw new ArgumentOutOfRangeException(nameof(TrustedExamples), TrustedExamples,
                $"{owner}.{nameof(TrustedExamples)} must be at least 1 (or null); got {TrustedExamples}.");
        ProtocolCheck.AtLeast(Steps, 1, nameof(Steps), owner);
        ProtocolCheck.Positive(LearningRate, nameof(LearningRate), owner);
        ProtocolCheck.AtLeast(BatchSize, 1, nameof(BatchSize), owner);
        foreach (var (settings, option) in new[] { (WeakTraining, nameof(WeakTraining)), (StudentTraining, nameof(StudentTraining)), (CeilingTraining, nameof(CeilingTraining)) })
        {
            if (settings is null) throw new ArgumentOutOfRangeException(option, $"{owner}.{option} must not be null (leave its values null for the shared settings).");
            settings.Validate(option, owner);
        }
        if (CompetenceOptions is null) throw new ArgumentOutOfRangeException(nameof(CompetenceOptions), $"{owner}.{nameof(CompetenceOptions)} must not be null (leave its values null for the objective's defaults).");
        if (CompetenceLosses is not null)
        {
            // With several losses the objective options apply to the losses that take them (e.g. logconf's hardening
            // beside a plain xent); at least one must take them, and there they must be in range.
            if (CompetenceOptions != new CompetenceObjectiveOptions() && !CompetenceLosses.Any(TakesCompetenceOptions))
                throw new ArgumentOutOfRangeException(nameof(CompetenceOptions),
                    $"{owner}.{nameof(CompetenceOptions)} fit none of the losses [{string.Join(", ", CompetenceLosses)}].");
            foreach (var loss in CompetenceLosses.Where(TakesCompetenceOptions))
                CompetenceOptions.Validate(loss, nameof(CompetenceOptions), owner);
        }
        else if (!Reweights) CompetenceOptions.Validate(CompetenceLoss, nameof(CompetenceOptions), owner);
        else if (CompetenceOptions != new CompetenceObjectiveOptions())
            throw new ArgumentOutOfRangeException(nameof(CompetenceOptions),
                $"{owner}.{nameof(CompetenceOptions)} must be left empty with '{WeakToStrong.ReweightLoss}', which takes no objective options.");
        if (!(double.IsFinite(MinimumGap) && MinimumGap >= 0))
            throw new ArgumentOutOfRangeException(nameof(MinimumGap), MinimumGap, $"{owner}.{nameof(MinimumGap)} must be finite and >= 0; got {MinimumGap}.");
        ProtocolCheck.AtLeast(EnsembleMembers, 2, nameof(EnsembleMembers), owner);
        if (!Enum.IsDefined(EnsembleCombination))
            throw new ArgumentOutOfRangeException(nameof(EnsembleCombination), EnsembleCombination,
                $"{owner}.{nameof(EnsembleCombination)} must be one of {string.Join(", ", Enum.GetNames<EnsembleCombination>())}.");
        ProtocolCheck.AtLeast(BootstrapResamples, 1, nameof(BootstrapResamples), owner);
        ProtocolCheck.Fraction(ConfidenceLevel, nameof(ConfidenceLevel), owner);
        ProtocolCheck.Device(Device, nameof(Device), owner);
    }
}
