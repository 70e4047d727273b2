using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Superalign.Data;
using Superalign.Experiments.Metrics;
using Superalign.Objectives.Competence;
using Superalign.Optimization;
using Superalign.Students;
using Superalign.Supervision;
using Superalign.Experiments.Tasks;
using TorchSharp;
using static TorchSharp.torch;

namespace Superalign.Experiments.Protocols;

/// <summary>
/// Sandwiching with a debate judge (Irving et al. 2018; Michael et al. 2023): can a weak judge, helped by strong
/// models, reach the accuracy of an expert whose labels it never sees? Over several seeds it trains a weak judge (an
/// MLP that sees only <c>k</c> random features of the <see cref="SparseEvidenceTask"/>) and a strong expert (an MLP
/// that sees all of them), both on ground truth with the <see cref="AlternatingOptimizer"/> (competence only,
/// cross-entropy), and then measures on held-out examples the judge's accuracy with no help, with one consultant, and
/// after a debate between two <see cref="GreedyDebater"/>s, next to the expert's.
/// </summary>
/// <remarks>
/// The judge is trained on uniformly random <c>k</c>-subsets (a fresh subset for every example of every batch), so the
/// no-help condition is its training distribution; consultancy and debate show it selected features. Everything is
/// deterministic given the options and the thread count.
/// </remarks>
public sealed class Sandwiching : Protocol<SandwichingOptions, SandwichingResult>
{
    /// <summary>The protocol's name in progress reports and the catalog.</summary>
    public const string ProtocolName = "sandwiching";

    private const int StagesPerSeed = 3;

    /// <summary>Creates the protocol; validates the options.</summary>
    /// <param name="options">Options (validated here); null takes the defaults.</param>
    /// <param name="loggerFactory">Optional logging: one line per seed.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the exception names it).</exception>
    public Sandwiching(SandwichingOptions? options = null, ILoggerFactory? loggerFactory = null)
        : base(ProtocolName, options ?? new SandwichingOptions(), loggerFactory)
    {
    }

    /// <inheritdoc />
    public override SandwichingResult Run(IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Run(ProtocolRun.None, progress, cancellationToken);

    /// <inheritdoc />
    /// <remarks>One unit per seed (<c>seed-N</c>): its row and its test examples' correctness under each condition.</remarks>
    public override IReadOnlyList<string> Units => Options.Seeds.Select(SeedUnit).ToList();

    /// <inheritdoc />
    public override SandwichingResult Run(ProtocolRun run, IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var watch = Stopwatch.StartNew();
        var seeds = SelectSeeds(run, Options.Seeds);
        var store = OpenStore(run);
        var task = new SparseEvidenceTask(Options.Task);
        var device = Devices.Parse(Options.Device);
        var stages = new StageCounter(Name, progress, seeds.Count * StagesPerSeed);
        var rows = new List<SandwichingSeedResult>();
        var noHelp = new List<double>();
        var consultancy = new List<double>();
        var debate = new List<double>();
        Logger.LogInformation("Sandwiching: {Seeds} seeds, {Train} training and {Test} test examples each, k = {Reveals} of {Features} features, on {Device}",
            seeds.Count, Options.TrainSize, Options.TestSize, Options.Reveals, task.Features, device);

        foreach (int seed in seeds)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var unit = RunUnit(store, run, SeedUnit(seed), () => RunSeed(task, device, seed, stages, cancellationToken),
                () => stages.Report($"seed {seed}: read back", StagesPerSeed));
            rows.Add(unit.Row);
            noHelp.AddRange(unit.NoHelpCorrect);
            consultancy.AddRange(unit.ConsultancyCorrect);
            debate.AddRange(unit.DebateCorrect);
        }

        double level = Options.ConfidenceLevel;
        int resamples = Options.BootstrapResamples;
        return new SandwichingResult(
            Options,
            rows,
            MeanSummary.Of(rows.Select(r => r.NoHelpAccuracy).ToArray(), level),
            MeanSummary.Of(rows.Select(r => r.ConsultancyAccuracy).ToArray(), level),
            MeanSummary.Of(rows.Select(r => r.DebateAccuracy).ToArray(), level),
            MeanSummary.Of(rows.Select(r => r.ExpertAccuracy).ToArray(), level),
            Bootstrap.MeanDifference(debate, noHelp, level, resamples),
            Bootstrap.MeanDifference(debate, consultancy, level, resamples),
            Options.TrainSize,
            Options.TestSize,
            noHelp.Count,
            seeds.ToArray(),
            watch.Elapsed.TotalSeconds);
    }

    /// <summary>A seed's unit: its row and, per test example, whether the judge was right under each condition (for the pooled bootstrap).</summary>
    internal sealed record SeedUnitData(SandwichingSeedResult Row, double[] NoHelpCorrect, double[] ConsultancyCorrect, double[] DebateCorrect);

    private SeedUnitData RunSeed(SparseEvidenceTask task, Device device, int seed, StageCounter stages, CancellationToken cancellationToken)
    {
        var seedWatch = Stopwatch.StartNew();
        using var scope = NewDisposeScope();
        var (trainX, trainY) = task.Generate(Options.TrainSize, SeedStreams.Mix(seed, 1));
        var (testX, testY) = task.Generate(Options.TestSize, SeedStreams.Mix(seed, 2));
        (trainX, trainY, testX, testY) = (trainX.to(device), trainY.to(device), testX.to(device), testY.to(device));

        using var expert = new MlpClassifier(new MlpClassifierOptions(task.Features, task.Classes, Options.ExpertHiddenWidth, Options.ExpertDepth, Seed: SeedStreams.Mix(seed, 3)), device, "expert");
        Train(expert, SupervisedDataset.ForClassification(trainX, trainY).Batches(Options.BatchSize, SeedStreams.Mix(seed, 4)), Options.ExpertSteps, cancellationToken);
        stages.Report($"seed {seed}: expert trained");

        using var judge = new MlpClassifier(new MlpClassifierOptions(task.JudgeInputWidth, task.Classes, Options.JudgeHiddenWidth, Options.JudgeDepth, Seed: SeedStreams.Mix(seed, 5)), device, "judge");
        using (var generator = new Generator(unchecked((ulong)SeedStreams.Mix(seed, 6)), CPU))
            Train(judge, RandomRevealBatches(trainX, trainY, generator, SeedStreams.Mix(seed, 7)), Options.JudgeSteps, cancellationToken);
        stages.Report($"seed {seed}: judge trained");

        cancellationToken.ThrowIfCancellationRequested();
        var labels = ClassificationAccuracy.Predictions(testY);
        int[] expertPredictions;
        using (no_grad())
        using (EvaluationMode.Enter(expert))
            expertPredictions = ClassificationAccuracy.Predictions(expert.ClassLogits(testX));
        var none = Evaluate(judge, expert, task, OversightMode.NoHelp, seed, testX, testY);
        var consult = Evaluate(judge, expert, task, OversightMode.Consultancy, seed, testX, testY);
        var argued = Evaluate(judge, expert, task, OversightMode.Debate, seed, testX, testY);
        var noneCorrect = ClassificationAccuracy.Correct(none.Verdicts, labels);
        var consultCorrect = ClassificationAccuracy.Correct(consult.Verdicts, labels);
        var debateCorrect = ClassificationAccuracy.Correct(argued.Verdicts, labels);

        var honest = Enumerable.Range(0, labels.Length).Where(i => consult.Claims![i] == labels[i]).ToArray();
        var dishonest = Enumerable.Range(0, labels.Length).Where(i => consult.Claims![i] != labels[i]).ToArray();
        var row = new SandwichingSeedResult(
            seed,
            noneCorrect.Average(),
            consultCorrect.Average(),
            debateCorrect.Average(),
            ClassificationAccuracy.Of(expertPredictions, labels),
            honest.Length == 0 ? double.NaN : honest.Average(i => consultCorrect[i]),
            dishonest.Length == 0 ? double.NaN : dishonest.Average(i => consultCorrect[i]),
            Enumerable.Range(0, labels.Length).Average(i => argued.Verdicts[i] == argued.Claims![i] ? 1.0 : 0.0),
            seedWatch.Elapsed.TotalSeconds);
        Logger.LogInformation("Seed {Seed}: no help {NoHelp:P1}, consultancy {Consultancy:P1}, debate {Debate:P1}, expert {Expert:P1} ({Seconds:F1} s)",
            seed, row.NoHelpAccuracy, row.ConsultancyAccuracy, row.DebateAccuracy, row.ExpertAccuracy, row.WallSeconds);
        stages.Report($"seed {seed}: evaluated");
        return new SeedUnitData(row, noneCorrect.ToArray(), consultCorrect.ToArray(), debateCorrect.ToArray());
    }

    /// <summary>Cross-entropy on ground truth with 5% warm-up, then evaluation mode.</summary>
    private void Train(IClassifierStudent student, IBatchSource<SupervisedBatch> batches, int steps, CancellationToken cancellationToken) =>
        ClassifierTraining.Train(student, batches, CompetenceObjectives.Create("ce"), steps, Options.LearningRate, cancellationToken, warmupSteps: steps / 20);

    /// <summary>Mini-batches of training examples, each example behind a fresh uniformly random <c>k</c>-subset reveal.</summary>
    private IBatchSource<SupervisedBatch> RandomRevealBatches(Tensor x, Tensor y, Generator generator, int seed)
    {
        var sampler = new EpochSampler((int)x.shape[0], Options.BatchSize, shuffle: true, dropLast: false, seed);
        int features = (int)x.shape[1];
        return BatchSource.From(() =>
        {
            // Runs inside the optimizer's step scope: these tensors are freed with the step.
            var index = tensor(sampler.NextIndices(), device: x.device);
            var rows = x.index_select(0, index);
            var mask = RevealEncoding.RandomMasks(rows.shape[0], features, Options.Reveals, generator, x.device);
            return new SupervisedBatch(ResponseBatch.ForClassification(RevealEncoding.Encode(rows, mask), y.index_select(0, index)));
        });
    }

    private (int[] Verdicts, int[]? Claims) Evaluate(IClassifierStudent judge, IClassifierStudent expert, SparseEvidenceTask task,
        OversightMode mode, int seed, Tensor x, Tensor y)
    {
        using var scope = NewDisposeScope();
        var supervisor = new DebateJudge(judge, expert, new DebateJudgeOptions(mode, Options.Reveals, SeedStreams.Mix(seed, 8 + (int)mode)), task.Label);
        var session = supervisor.Session(x, y);
        return (ClassificationAccuracy.Predictions(session.Verdicts()), session.Claims is null ? null : ClassificationAccuracy.Predictions(session.Claims));
    }
}
