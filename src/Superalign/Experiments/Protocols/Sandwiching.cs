using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
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
/// Options of <see cref="Sandwiching"/>; validated when the protocol is built (an invalid value throws
/// <see cref="ArgumentOutOfRangeException"/> naming the option). The defaults run in seconds on two CPU cores with
/// one TorchSharp thread (<c>torch.set_num_threads(1)</c>); the default thread count can be many times slower for
/// models this small.
/// </summary>
public sealed record SandwichingOptions
{
    /// <summary>The built-in sparse-evidence task (its hidden rule is the same for every seed).</summary>
    public SparseEvidenceTaskOptions Task { get; init; } = new();

    /// <summary>Seeds: each draws its own training and test examples, initial weights and random reveals. At least one, distinct.</summary>
    public IReadOnlyList<int> Seeds { get; init; } = [0, 1, 2];

    /// <summary>Training examples per seed (judge and expert train on the same ones). At least 1.</summary>
    public int TrainExamples { get; init; } = 4000;

    /// <summary>Held-out test examples per seed, on which every condition is evaluated. At least 1.</summary>
    public int TestExamples { get; init; } = 1000;

    /// <summary>Features the judge sees, <c>k</c>, in every condition. In <c>[1, Task.Features]</c>.</summary>
    public int Reveals { get; init; } = 4;

    /// <summary>Hidden width of the judge's MLP. At least 1.</summary>
    public int JudgeHiddenWidth { get; init; } = 32;

    /// <summary>Hidden layers of the judge's MLP. In <c>[0, 64]</c>.</summary>
    public int JudgeDepth { get; init; } = 1;

    /// <summary>Hidden width of the expert's MLP. At least 1.</summary>
    public int ExpertHiddenWidth { get; init; } = 64;

    /// <summary>Hidden layers of the expert's MLP. In <c>[0, 64]</c>.</summary>
    public int ExpertDepth { get; init; } = 2;

    /// <summary>Optimizer steps of the judge (each on a fresh random reveal of every example in its batch). At least 1.</summary>
    public int JudgeSteps { get; init; } = 1500;

    /// <summary>Optimizer steps of the expert. At least 1.</summary>
    public int ExpertSteps { get; init; } = 600;

    /// <summary>Mini-batch size of both trainings. At least 1.</summary>
    public int BatchSize { get; init; } = 128;

    /// <summary>Peak AdamW learning rate of both trainings (linear warm-up over 5% of the steps, then cosine decay). Finite and &gt; 0.</summary>
    public double LearningRate { get; init; } = 3e-3;

    /// <summary>Confidence level of the intervals, in (0, 1).</summary>
    public double Level { get; init; } = 0.95;

    /// <summary>Resamples of the paired bootstrap intervals. At least 1.</summary>
    public int BootstrapResamples { get; init; } = Bootstrap.DefaultResamples;

    /// <summary>Device: <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c> or <c>auto</c> (CUDA when available).</summary>
    public string Device { get; init; } = "auto";

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        const string owner = nameof(SandwichingOptions);
        if (Task is null) throw new ArgumentOutOfRangeException(nameof(Task), $"{owner}.{nameof(Task)} must not be null.");
        Task.Validate();
        ProtocolCheck.NotEmpty(Seeds, nameof(Seeds), owner);
        ProtocolCheck.Distinct(Seeds, nameof(Seeds), owner);
        ProtocolCheck.AtLeast(TrainExamples, 1, nameof(TrainExamples), owner);
        ProtocolCheck.AtLeast(TestExamples, 1, nameof(TestExamples), owner);
        ProtocolCheck.AtLeast(Reveals, 1, nameof(Reveals), owner);
        if (Reveals > Task.Features)
            throw new ArgumentOutOfRangeException(nameof(Reveals), Reveals, $"{owner}.{nameof(Reveals)} must be at most Task.Features = {Task.Features}; got {Reveals}.");
        ProtocolCheck.AtLeast(JudgeHiddenWidth, 1, nameof(JudgeHiddenWidth), owner);
        Depth(JudgeDepth, nameof(JudgeDepth));
        ProtocolCheck.AtLeast(ExpertHiddenWidth, 1, nameof(ExpertHiddenWidth), owner);
        Depth(ExpertDepth, nameof(ExpertDepth));
        ProtocolCheck.AtLeast(JudgeSteps, 1, nameof(JudgeSteps), owner);
        ProtocolCheck.AtLeast(ExpertSteps, 1, nameof(ExpertSteps), owner);
        ProtocolCheck.AtLeast(BatchSize, 1, nameof(BatchSize), owner);
        ProtocolCheck.Positive(LearningRate, nameof(LearningRate), owner);
        ProtocolCheck.Fraction(Level, nameof(Level), owner);
        ProtocolCheck.AtLeast(BootstrapResamples, 1, nameof(BootstrapResamples), owner);
        if (string.IsNullOrWhiteSpace(Device)) throw new ArgumentOutOfRangeException(nameof(Device), Device, $"{owner}.{nameof(Device)} must be cpu, cuda, cuda:N or auto.");

        static void Depth(int value, string option)
        {
            if (value < 0 || value > 64)
                throw new ArgumentOutOfRangeException(option, value, $"{owner}.{option} must be in [0, 64]; got {value}.");
        }
    }
}

/// <summary>One seed's accuracies on its held-out examples.</summary>
/// <param name="Seed">The seed.</param>
/// <param name="NoHelpAccuracy">The judge alone, seeing <c>k</c> random features.</param>
/// <param name="ConsultancyAccuracy">The judge after one consultant (honest for about half of the examples).</param>
/// <param name="DebateAccuracy">The judge after a debate.</param>
/// <param name="ExpertAccuracy">The strong model, seeing every feature (the ceiling the sandwich aims for).</param>
/// <param name="HonestConsultantAccuracy">Consultancy, on the examples whose consultant argued for the true class (NaN if none).</param>
/// <param name="DishonestConsultantAccuracy">Consultancy, on the examples whose consultant argued for a wrong class (NaN if none).</param>
/// <param name="DebateAgreesWithExpert">Fraction of debates the judge decided for the strong model's answer.</param>
/// <param name="WallSeconds">Wall time of the seed.</param>
public sealed record SandwichingSeedResult(
    int Seed,
    double NoHelpAccuracy,
    double ConsultancyAccuracy,
    double DebateAccuracy,
    double ExpertAccuracy,
    double HonestConsultantAccuracy,
    double DishonestConsultantAccuracy,
    double DebateAgreesWithExpert,
    double WallSeconds);

/// <summary>What a <see cref="Sandwiching"/> run found.</summary>
/// <param name="Options">The options of the run.</param>
/// <param name="SeedResults">One row per seed, in the order of <see cref="SandwichingOptions.Seeds"/>.</param>
/// <param name="NoHelp">Judge accuracy without help, over seeds (t interval).</param>
/// <param name="Consultancy">Judge accuracy with one consultant, over seeds.</param>
/// <param name="Debate">Judge accuracy after debate, over seeds.</param>
/// <param name="Expert">Expert accuracy, over seeds.</param>
/// <param name="DebateMinusNoHelp">Paired bootstrap interval of debate − no-help accuracy on the pooled test examples of all seeds.</param>
/// <param name="DebateMinusConsultancy">Paired bootstrap interval of debate − consultancy accuracy on the pooled test examples.</param>
/// <param name="TrainExamples">Training examples per seed.</param>
/// <param name="TestExamples">Test examples per seed.</param>
/// <param name="PooledTestExamples">Test examples over all seeds (the bootstrap's sample size).</param>
/// <param name="Seeds">The seeds.</param>
/// <param name="WallSeconds">Wall time of the whole run.</param>
public sealed record SandwichingResult(
    SandwichingOptions Options,
    IReadOnlyList<SandwichingSeedResult> SeedResults,
    SummaryStatistics NoHelp,
    SummaryStatistics Consultancy,
    SummaryStatistics Debate,
    SummaryStatistics Expert,
    BootstrapInterval DebateMinusNoHelp,
    BootstrapInterval DebateMinusConsultancy,
    int TrainExamples,
    int TestExamples,
    int PooledTestExamples,
    IReadOnlyList<int> Seeds,
    double WallSeconds)
{
    /// <summary>The conditions in reporting order, with their summaries: no help, consultancy, debate, expert.</summary>
    public IReadOnlyList<(string Condition, SummaryStatistics Accuracy)> Conditions() =>
    [
        ("judge, no help", NoHelp),
        ("judge + consultant", Consultancy),
        ("judge + debate", Debate),
        ("expert (all features)", Expert),
    ];
}

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
public sealed class Sandwiching
{
    private const string ProtocolName = "sandwiching";
    private const int StagesPerSeed = 3;
    private readonly ILogger<Sandwiching> _logger;

    /// <summary>Creates the protocol; validates the options.</summary>
    /// <param name="options">Options (defaults when null).</param>
    /// <param name="logger">Optional logger.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the exception names it).</exception>
    public Sandwiching(SandwichingOptions? options = null, ILogger<Sandwiching>? logger = null)
    {
        Options = options ?? new SandwichingOptions();
        Options.Validate();
        _logger = logger ?? NullLogger<Sandwiching>.Instance;
    }

    /// <summary>The options in force.</summary>
    public SandwichingOptions Options { get; }

    /// <summary>Runs every seed and summarises.</summary>
    /// <param name="progress">Receives a report after each stage of each seed.</param>
    /// <param name="cancellationToken">Checked between optimizer steps and stages.</param>
    public SandwichingResult Run(IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var watch = Stopwatch.StartNew();
        var task = new SparseEvidenceTask(Options.Task);
        var device = Devices.Parse(Options.Device);
        int total = Options.Seeds.Count * StagesPerSeed, done = 0;
        var rows = new List<SandwichingSeedResult>();
        var noHelp = new List<double>();
        var consultancy = new List<double>();
        var debate = new List<double>();
        _logger.LogInformation("Sandwiching: {Seeds} seeds, {Train} training and {Test} test examples each, k = {Reveals} of {Features} features, on {Device}",
            Options.Seeds.Count, Options.TrainExamples, Options.TestExamples, Options.Reveals, task.Features, device);

        foreach (int seed in Options.Seeds)
        {
            var seedWatch = Stopwatch.StartNew();
            using var scope = NewDisposeScope();
            var (trainX, trainY) = task.Generate(Options.TrainExamples, Derive(seed, 1));
            var (testX, testY) = task.Generate(Options.TestExamples, Derive(seed, 2));
            (trainX, trainY, testX, testY) = (trainX.to(device), trainY.to(device), testX.to(device), testY.to(device));

            using var expert = new MlpClassifier(new MlpClassifierOptions(task.Features, task.Classes, Options.ExpertHiddenWidth, Options.ExpertDepth, Seed: Derive(seed, 3)), device, "expert");
            Train(expert, SupervisedDataset.ForClassification(trainX, trainY).Batches(Options.BatchSize, (int)Derive(seed, 4)), Options.ExpertSteps, cancellationToken);
            progress?.Report(new ProtocolProgress(ProtocolName, $"seed {seed}: expert trained", ++done, total));

            using var judge = new MlpClassifier(new MlpClassifierOptions(task.JudgeInputWidth, task.Classes, Options.JudgeHiddenWidth, Options.JudgeDepth, Seed: Derive(seed, 5)), device, "judge");
            using (var generator = new Generator(unchecked((ulong)Derive(seed, 6)), CPU))
                Train(judge, RandomRevealBatches(trainX, trainY, generator, (int)Derive(seed, 7)), Options.JudgeSteps, cancellationToken);
            progress?.Report(new ProtocolProgress(ProtocolName, $"seed {seed}: judge trained", ++done, total));

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
            noHelp.AddRange(noneCorrect);
            consultancy.AddRange(consultCorrect);
            debate.AddRange(debateCorrect);

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
            rows.Add(row);
            _logger.LogInformation("Seed {Seed}: no help {NoHelp:P1}, consultancy {Consultancy:P1}, debate {Debate:P1}, expert {Expert:P1} ({Seconds:F1} s)",
                seed, row.NoHelpAccuracy, row.ConsultancyAccuracy, row.DebateAccuracy, row.ExpertAccuracy, row.WallSeconds);
            progress?.Report(new ProtocolProgress(ProtocolName, $"seed {seed}: evaluated", ++done, total));
        }

        double level = Options.Level;
        int resamples = Options.BootstrapResamples;
        return new SandwichingResult(
            Options,
            rows,
            Summaries.Of(rows.Select(r => r.NoHelpAccuracy).ToArray(), level),
            Summaries.Of(rows.Select(r => r.ConsultancyAccuracy).ToArray(), level),
            Summaries.Of(rows.Select(r => r.DebateAccuracy).ToArray(), level),
            Summaries.Of(rows.Select(r => r.ExpertAccuracy).ToArray(), level),
            Bootstrap.MeanDifference(debate, noHelp, level, resamples),
            Bootstrap.MeanDifference(debate, consultancy, level, resamples),
            Options.TrainExamples,
            Options.TestExamples,
            noHelp.Count,
            Options.Seeds.ToArray(),
            watch.Elapsed.TotalSeconds);
    }

    /// <summary>A per-seed stream id, so that the seeds of a run never share a stream.</summary>
    private static long Derive(int seed, int stream) => (long)seed * 1009 + stream;

    private void Train(IStudent student, IBatchSource<SupervisedBatch> batches, int steps, CancellationToken cancellationToken)
    {
        var options = new AlternatingOptimizerOptions
        {
            TotalSteps = steps,
            Schedule = AlternationSchedules.CompetenceOnly(),
            LearningRate = Options.LearningRate,
            WarmupSteps = steps / 20,
            LogEvery = 0,
        };
        using var optimizer = new AlternatingOptimizer(student, CompetenceObjectives.Create("ce"), null, options);
        optimizer.Train(batches, null, null, cancellationToken);
        student.SetTraining(false);
    }

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
        var supervisor = new DebateJudge(judge, expert, new DebateJudgeOptions(mode, Options.Reveals, (int)Derive(seed, 8 + (int)mode)), task.Label);
        var session = supervisor.Session(x, y);
        return (ClassificationAccuracy.Predictions(session.Verdicts()), session.Claims is null ? null : ClassificationAccuracy.Predictions(session.Claims));
    }
}
