using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Superalign.Data;
using Superalign.Experiments.Metrics;
using Superalign.Objectives.Competence;
using Superalign.Supervision;
using Superalign.Experiments.Tasks;
using static TorchSharp.torch;

namespace Superalign.Experiments.Protocols;

/// <summary>
/// Diversified supervision (the co-optimization framework's second principle): does a strong student trained on
/// several diverse weak supervisors — averaged, weighted by their agreement, or fed easy-to-hard — do better, and copy
/// fewer of any one supervisor's errors, than a student of one weak supervisor?
/// </summary>
/// <remarks>
/// <para>Per seed, on the built-in <see cref="RepresentationTask"/>: split the training set 50/50 into A and B (as
/// <see cref="WeakToStrong"/> does); train each weak member (linear probes over trunks of different sizes and seeds)
/// on A with ground truth; train the strong ceiling on B with ground truth; then train one strong student per
/// <see cref="DiversityVariant"/> on B with that variant's labels, for the same number of updates and — except for
/// the curricula, which change the order — the same batches. Every model is evaluated on the test set.</para>
/// <para>Reported per (seed, variant): accuracy, PGR against the single supervisor (member 0) and against the
/// variant's own supervisor, and for every member the fraction of its test errors the student reproduces
/// (<see cref="SupervisorAgreement.WeakErrors(int[], int[], int[])"/>), with t-intervals over seeds and paired differences
/// against the single-supervisor student. The ceiling's copied fractions give the floor: errors of a member that even
/// a ground-truth-trained strong model makes the same way.</para>
/// </remarks>
public sealed class DiversifiedSupervision : Protocol<DiversifiedSupervisionOptions, DiversifiedSupervisionResult>
{
    /// <summary>The protocol's name in progress reports and the catalog.</summary>
    public const string ProtocolName = "diversified-supervision";

    /// <summary>The <see cref="DiversifiedSupervisionRow.Supervisor"/> of the variants trained on the ensemble's labels.</summary>
    public const string EnsembleName = "ensemble";

    /// <summary>Creates the protocol; validates the options.</summary>
    /// <param name="options">Options (validated here); null takes the defaults.</param>
    /// <param name="loggerFactory">Optional logging: one line per row.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the exception names it).</exception>
    public DiversifiedSupervision(DiversifiedSupervisionOptions? options = null, ILoggerFactory? loggerFactory = null)
        : base(ProtocolName, options ?? new DiversifiedSupervisionOptions(), loggerFactory)
    {
    }

    /// <inheritdoc />
    public override DiversifiedSupervisionResult Run(IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Run(ProtocolRun.None, progress, cancellationToken);

    /// <inheritdoc />
    /// <remarks>
    /// One unit per seed (<c>seed-N</c>): the seed's members, ceiling and every variant's row (the variants of a seed
    /// share its weak members). The trunks are pretrained by every run, units read back or not (they are
    /// deterministic, and their diagnostics are part of the result).
    /// </remarks>
    public override IReadOnlyList<string> Units => Options.Seeds.Select(SeedUnit).ToList();

    /// <inheritdoc />
    public override DiversifiedSupervisionResult Run(ProtocolRun run, IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var watch = Stopwatch.StartNew();
        var o = Options;
        var seeds = SelectSeeds(run, o.Seeds);
        var store = OpenStore(run);
        using var representation = new RepresentationRun(o.Task, o.Device, o.TrainSize, o.TestSize);
        var (device, task, train, test) = (representation.Device, representation.Task, representation.Train, representation.Test);
        var specs = o.Members.Append(o.Student).Distinct().ToList();
        int stagesPerSeed = o.Members.Count + 1 + Plan().Count;
        var stages = new StageCounter(Name, progress, specs.Count + stagesPerSeed * seeds.Count);

        var trunks = ClassifierTraining.PretrainTrunks(task, specs, stage => stages.Report(stage), Logger, cancellationToken);

        int n = o.TrainSize;
        var perSeed = new List<DiversifiedSupervisionSeed>();
        var rows = new List<DiversifiedSupervisionRow>();
        foreach (int seed in seeds)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var unit = RunUnit(store, run, SeedUnit(seed), () => RunSeed(task, train, test, seed, stages, cancellationToken),
                () => stages.Report($"seed {seed}: read back", stagesPerSeed));
            perSeed.Add(unit.Seed);
            rows.AddRange(unit.Rows);
        }
        var ceilingCopies = o.Members.Select((spec, m) => new MemberCopySummary(spec.Name,
            ClassifierTraining.SummaryOrNull(perSeed.Select(s => s.CeilingCopies[m].CopiedFraction), o.ConfidenceLevel))).ToList();
        return new DiversifiedSupervisionResult(o, seeds.ToArray(),
            new WeakToStrongSampleSizes(n, n / 2, n - n / 2, o.TestSize, o.Task.InputDimension, o.Task.Classes),
            trunks, perSeed, rows, Summarize(rows), ceilingCopies, device.ToString(), watch.Elapsed.TotalSeconds);
    }

    /// <summary>A seed's unit: its per-seed row and its students' rows.</summary>
    internal sealed record SeedUnitData(DiversifiedSupervisionSeed Seed, IReadOnlyList<DiversifiedSupervisionRow> Rows);

    private SeedUnitData RunSeed(RepresentationTask task, ClassificationTable train, ClassificationTable test, int seed,
        StageCounter stages, CancellationToken cancellationToken)
    {
        var o = Options;
        var testLabels = ClassificationAccuracy.Predictions(test.Labels);
        using var seedScope = NewDisposeScope();
        var owned = new List<IClassifierStudent>();
        var rows = new List<DiversifiedSupervisionRow>();
        DiversifiedSupervisionSeed seedRow;
        try
        {
            var (xa, ya, xb, yb) = ClassifierTraining.Halves(train, seed);

            // The weak members on A with ground truth, and their test predictions.
            var members = new List<IClassifierStudent>();
            for (int m = 0; m < o.Members.Count; m++)
            {
                var model = task.Probe(o.Members[m]);
                owned.Add(model);
                ClassifierTraining.Train(model, xa, ya, null, CompetenceObjectives.Create("ce"), o.Steps, o.LearningRate, o.BatchSize,
                    SeedStreams.Mix(seed, m), cancellationToken);
                members.Add(model);
                stages.Report($"seed {seed}: weak member {o.Members[m].Name} trained on A");
            }
            var memberTests = members.Select(m => ClassifierTraining.Evaluate(m, test.Features, test.Labels)).ToList();
            var ensemble = new EnsembleSupervisor(members.Select(m => (ILabelSupervisor)new ModelSupervisor(m)), EnsembleCombination.Mean);
            var (ensembleB, weightsB) = ensemble.LabelWithAgreement(xb);
            var singleB = ClassifierTraining.Probabilities(members[0], xb);
            var ensembleTest = ClassifierTraining.Score(ensemble.Label(test.Features), test.Labels);
            var weights = weightsB.to_type(ScalarType.Float64).cpu().data<double>().ToArray();

            var ceiling = task.Probe(o.Student);
            owned.Add(ceiling);
            ClassifierTraining.Train(ceiling, xb, yb, null, CompetenceObjectives.Create("ce"), o.Steps, o.LearningRate, o.BatchSize,
                SeedStreams.Mix(seed, 100), cancellationToken);
            var ceilingTest = ClassifierTraining.Evaluate(ceiling, test.Features, test.Labels);
            stages.Report($"seed {seed}: ceiling {o.Student.Name} trained on B");

            List<MemberErrorCopies> Copies(int[] predictions) => o.Members.Select((spec, m) =>
                new MemberErrorCopies(spec.Name, SupervisorAgreement.WeakErrors(testLabels, memberTests[m].Predictions, predictions))).ToList();

            seedRow = new DiversifiedSupervisionSeed(seed, memberTests.Select(e => e.Accuracy).ToArray(), ensembleTest.Accuracy,
                ensemble.Disagreement(test.Features), weights.Average(), weights.Count(w => w >= 1 - 1e-6) / (double)weights.Length,
                ceilingTest.Accuracy, Copies(ceilingTest.Predictions));

            // One student per (variant, supervisor); the same batch seed for all, so that every variant but the curricula sees the same batches.
            int batchSeed = SeedStreams.Mix(seed, 200);
            var memberB = new Tensor?[members.Count];
            memberB[0] = singleB;
            foreach (var (variant, member) in Plan())
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var variantScope = NewDisposeScope();
                var labels = member is int k ? memberB[k] ??= ClassifierTraining.Probabilities(members[k], xb).DetachFromDisposeScope() : ensembleB;
                var objective = CompetenceObjectives.Create(o.CompetenceLoss);
                IBatchSource<SupervisedBatch> batches;
                if (variant == DiversityVariant.AgreementWeighted)
                {
                    batches = SupervisedDataset.ForClassification(xb, labels.argmax(1), ExampleWeightedObjective.Attach(labels, weightsB)).Batches(o.BatchSize, batchSeed);
                    objective = new ExampleWeightedObjective(objective);
                }
                else if (variant is DiversityVariant.Curriculum or DiversityVariant.EnsembleCurriculum)
                {
                    batches = SupervisedDataset.ForClassification(xb, labels.argmax(1), labels)
                        .CurriculumBatches(Curriculum.Confidence(labels), o.BatchSize, o.Steps, o.CurriculumStages, o.CurriculumPacing, batchSeed);
                }
                else
                {
                    batches = SupervisedDataset.ForClassification(xb, labels.argmax(1), labels).Batches(o.BatchSize, batchSeed);
                }
                using var student = task.Probe(o.Student);
                ClassifierTraining.Train(student, batches, objective, o.Steps, o.LearningRate, cancellationToken);
                var studentTest = ClassifierTraining.Evaluate(student, test.Features, test.Labels);
                var supervisor = member is int j ? memberTests[j] : ensembleTest;
                string supervisorName = member is int i ? o.Members[i].Name : EnsembleName;
                var copies = Copies(studentTest.Predictions);
                var row = new DiversifiedSupervisionRow(seed, variant, supervisorName, member, supervisor.Accuracy, studentTest.Accuracy, ceilingTest.Accuracy,
                    PerformanceGapRecovered.Compute(memberTests[0].Accuracy, studentTest.Accuracy, ceilingTest.Accuracy).Value,
                    PerformanceGapRecovered.Compute(supervisor.Accuracy, studentTest.Accuracy, ceilingTest.Accuracy).Value,
                    SupervisorAgreement.Rate(studentTest.Predictions, supervisor.Predictions), copies,
                    copies.Select(c => c.CopiedFraction).Where(double.IsFinite).DefaultIfEmpty(double.NaN).Max(),
                    variant == DiversityVariant.AgreementWeighted ? weights.Average() : null);
                rows.Add(row);
                Logger.LogInformation("seed {Seed} {Variant} ({Supervisor}): supervisor {SupervisorAccuracy:P1}, student {Student:P1}, ceiling {Ceiling:P1}, max copied {Copied:P1}",
                    seed, variant, supervisorName, row.SupervisorAccuracy, row.StudentAccuracy, row.CeilingAccuracy, row.MaxCopiedFraction);
                stages.Report($"seed {seed}: student {o.Student.Name} trained ({variant}, {supervisorName})");
            }
            foreach (var labels in memberB.Skip(1)) labels?.Dispose();
        }
        finally
        {
            foreach (var model in owned) model.Dispose();
        }
        return new SeedUnitData(seedRow, rows);
    }

    /// <summary>The students to train, in order: (variant, member index or null for the ensemble's labels).</summary>
    internal IReadOnlyList<(DiversityVariant Variant, int? Member)> Plan() => Options.Variants.SelectMany(v => v switch
    {
        DiversityVariant.Single => Enumerable.Range(0, Options.Members.Count).Select(m => (v, (int?)m)),
        DiversityVariant.Curriculum => [(v, (int?)0)],
        _ => new[] { (v, (int?)null) },
    }).ToList();

    private IReadOnlyList<DiversityVariantSummary> Summarize(IReadOnlyList<DiversifiedSupervisionRow> rows)
    {
        double level = Options.ConfidenceLevel;
        // The student of each member alone, per (member, seed): the baseline of the paired differences.
        var alone = rows.Where(r => r.Variant == DiversityVariant.Single).ToDictionary(r => (r.SupervisorMember!.Value, r.Seed));
        return Plan().Select(p =>
        {
            var mine = rows.Where(r => r.Variant == p.Variant && r.SupervisorMember == p.Member).OrderBy(r => r.Seed).ToList();
            bool isAlone(int m) => p.Variant == DiversityVariant.Single && p.Member == m;
            SummaryStatistics? Versus(int m, Func<DiversifiedSupervisionRow, double> f) =>
                isAlone(m) || !mine.All(r => alone.ContainsKey((m, r.Seed))) ? null
                    : ClassifierTraining.SummaryOrNull(mine.Select(r => f(r) - f(alone[(m, r.Seed)])), level);
            return new DiversityVariantSummary(p.Variant, mine[0].Supervisor,
                MeanSummary.Of(mine.Select(r => r.SupervisorAccuracy).ToArray(), level),
                MeanSummary.Of(mine.Select(r => r.StudentAccuracy).ToArray(), level),
                ClassifierTraining.SummaryOrNull(mine.Select(r => r.Pgr), level),
                ClassifierTraining.SummaryOrNull(mine.Select(r => r.PgrOverSupervisor), level),
                Options.Members.Select((spec, m) => new MemberCopySummary(spec.Name,
                    ClassifierTraining.SummaryOrNull(mine.Select(r => r.Members[m].CopiedFraction), level),
                    Versus(m, r => r.Members[m].CopiedFraction))).ToList(),
                ClassifierTraining.SummaryOrNull(mine.Select(r => r.MaxCopiedFraction), level),
                Versus(0, r => r.StudentAccuracy), Versus(0, r => r.MaxCopiedFraction));
        }).ToList();
    }
}
