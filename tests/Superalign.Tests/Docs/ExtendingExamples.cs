// The code of docs/extending.md, compiled and tested here so the documented extension points cannot rot.
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Superalign.Checkpoints;
using Superalign.Data;
using Superalign.Experiments.Protocols;
using Superalign.Objectives.Competence;
using Superalign.Objectives.Conformity;
using Superalign.Optimization;
using Superalign.Students;
using TorchSharp;
using Superalign.Tests.Infrastructure;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Docs;

// extending:objective:begin
/// <summary>DPO with a fixed target margin γ: <c>−logσ(β·h − γ)</c>, h the DPO log-ratio margin.</summary>
public sealed class MarginDpo(double beta = 0.1, double gamma = 0.5) : IConformityObjective
{
    public string Name => "margin_dpo";
    public bool RequiresReference => true;

    public ConformityOutput Compute(PreferenceLogProbs logps)
    {
        var chosen = logps.PolicyChosen - logps.RequireReferenceChosen();        // cl = πc − rc
        var rejected = logps.PolicyRejected - logps.RequireReferenceRejected();  // rl = πr − rr
        var loss = -nn.functional.logsigmoid(beta * (chosen - rejected) - gamma).mean();
        return new ConformityOutput(loss, (beta * chosen).detach(), (beta * rejected).detach());
    }
}
// extending:objective:end

// extending:competence:begin
/// <summary>Focal loss (Lin et al. 2017) on hard targets: <c>−(1 − p_t)^γ · log p_t</c> over scored positions.</summary>
public sealed class FocalLoss(double gamma = 2.0) : ICompetenceObjective
{
    public string Name => "focal";
    public bool RequiresSoftTargets => false;

    public Tensor Loss(CompetenceInput input)
    {
        var logp = Superalign.LogProbs.Token(input.Logits, input.Targets);   // [B, T]
        var focal = -(1 - logp.exp()).pow(gamma) * logp;
        return (focal * input.Mask).sum() / input.Mask.sum().clamp_min(1);
    }
}
// extending:competence:end

// extending:schedule:begin
/// <summary>Competence only for a warm-up fraction of training, then one conformity step after every competence step.</summary>
public sealed class WarmupThenAlternate(double warmupFraction) : IAlternationSchedule
{
    public PhasePlan Plan(long step, long totalSteps) =>
        step < warmupFraction * totalSteps || step % 2 == 0
            ? new PhasePlan(TrainingPhase.Competence, 1, 0)
            : new PhasePlan(TrainingPhase.Conformity, 0, 1);
}
// extending:schedule:end

// extending:student:begin
/// <summary>Your own TorchSharp module as a classifier student: the base class gives cloning, saving and loading.</summary>
public sealed class MyClassifier : TorchStudent, IClassifierStudent
{
    private readonly nn.Module<Tensor, Tensor> _net;

    public MyClassifier(int features, int classes, Device? device = null)
        : this(nn.Sequential(nn.Linear(features, 32), nn.GELU(), nn.Linear(32, classes)), features, classes, device) { }

    private MyClassifier(nn.Module<Tensor, Tensor> net, int features, int classes, Device? device)
        : base("my-classifier", net, device ?? Devices.Default())
    {
        _net = net;
        InputFeatures = features;
        Classes = classes;
    }

    public int InputFeatures { get; }
    public int Classes { get; }

    public Tensor ClassLogits(Tensor features) => _net.call(features);

    // A classifier's response is one class: logits [B, 1, Classes] aligned with the targets [B, 1].
    public override Tensor Logits(ResponseBatch batch) => ClassLogits(batch.Inputs).unsqueeze(1);

    protected override TorchStudent CreateSibling() => new MyClassifier(InputFeatures, Classes, Device);
}
// extending:student:end

// extending:protocol:begin
/// <summary>The options: checked once, when the protocol is built.</summary>
public sealed record MyProtocolOptions : IProtocolOptions
{
    public IReadOnlyList<int> Seeds { get; init; } = [0, 1, 2];
    public int Steps { get; init; } = 600;
    public double Beta { get; init; } = 2.0;
    public string? OutputPath { get; init; }                 // where Run writes the result as JSON; null: nowhere

    public void Validate()
    {
        if (Seeds is null || Seeds.Count == 0)
            throw new ArgumentOutOfRangeException(nameof(Seeds), "MyProtocolOptions.Seeds must hold at least one seed.");
        if (Steps < 3)
            throw new ArgumentOutOfRangeException(nameof(Steps), Steps, "MyProtocolOptions.Steps must be at least 3.");
        if (!(double.IsFinite(Beta) && Beta > 0))
            throw new ArgumentOutOfRangeException(nameof(Beta), Beta, "MyProtocolOptions.Beta must be finite and > 0.");
    }
}

/// <summary>What a run measured: per seed, the reward accuracy of the last conformity step.</summary>
public sealed record MyProtocolResult(MyProtocolOptions Options, IReadOnlyList<double> RewardAccuracies, double WallSeconds)
    : IProtocolResult;

/// <summary>Per seed: a task with a value rule, a small classifier, one competence step then two conformity steps.</summary>
public sealed class MyProtocol : Protocol<MyProtocolOptions, MyProtocolResult>
{
    public MyProtocol(MyProtocolOptions? options = null, ILoggerFactory? loggerFactory = null)
        : base("my-protocol", options ?? new(), loggerFactory) { }

    /// <summary>One unit per seed: a run directory keeps each seed's accuracy, and a run resumes from them.</summary>
    public override IReadOnlyList<string> Units => Options.Seeds.Select(SeedUnit).ToList();

    public override MyProtocolResult Run(IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Run(ProtocolRun.None, progress, cancellationToken);

    public override MyProtocolResult Run(ProtocolRun run, IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var watch = Stopwatch.StartNew();
        var seeds = SelectSeeds(run, Options.Seeds);                 // every seed, or those run.Units selects
        var store = OpenStore(run);                                   // null when run.Directory is null
        var report = Stages(progress, total: seeds.Count);           // one unit of work per seed
        var accuracies = new List<double>();
        foreach (int seed in seeds)
        {
            cancellationToken.ThrowIfCancellationRequested();
            accuracies.Add(RunUnit(store, run, SeedUnit(seed),       // read back if stored, else trained and stored
                () => TrainSeed(seed, report, cancellationToken),
                readBack: () => report($"seed {seed}: read back")));
        }

        var result = new MyProtocolResult(Options, accuracies, watch.Elapsed.TotalSeconds);
        if (Options.OutputPath is not null)
            ProtocolJson.Write(result, Options.OutputPath);
        return result;
    }

    /// <summary>One seed, from its seed alone (not from what ran before it), so that it can be stored and read back.</summary>
    private double TrainSeed(int seed, Action<string> report, CancellationToken cancellationToken)
    {
        using var scope = NewDisposeScope();                          // frees this seed's tensors
        torch.random.manual_seed(seed);
        var x = randn(2000, 8);
        var answer = x.narrow(1, 0, 4).argmax(1);                     // the task: 4 answers
        var refuse = full_like(answer, 4);                            // a fifth response
        var sensitive = x.select(1, 7) > 1.0;                         // the value rule: refuse these
        using var student = new MlpClassifier(new MlpClassifierOptions(8, 5, HiddenWidth: 32, Depth: 1, Seed: seed), CPU);
        using var reference = student.Clone();
        var task = SupervisedDataset.ForClassification(x, answer);
        var pairs = PreferenceDataset.ForClassification(x, where(sensitive, refuse, answer), where(sensitive, answer, refuse))
            .WithReferenceLogProbs(reference);

        var options = new AlternatingOptimizerOptions
        {
            TotalSteps = Options.Steps,
            Schedule = AlternationSchedules.FixedRatio(1, 2),
            LearningRate = 3e-3,
        };
        using var optimizer = new AlternatingOptimizer(student, CompetenceObjectives.Create("ce"),
            ConformityObjectives.Create("sigmoid", beta: Options.Beta), options,
            logger: LoggerFactory?.CreateLogger<AlternatingOptimizer>());
        var reports = optimizer.Train(task.Batches(64, seed), pairs.Batches(64, seed), cancellationToken: cancellationToken);

        double accuracy = reports.Last(r => r.Phase == TrainingPhase.Conformity).Metric(MetricNames.RewardsAccuracies);
        Logger.LogInformation("Seed {Seed}: rewards/accuracies {Accuracy:F3}", seed, accuracy);
        report($"seed {seed}: trained");
        return accuracy;
    }
}
// extending:protocol:end

public sealed class ExtendingExamplesTests
{
    [Fact]
    public void MarginDpo_matches_a_scalar_implementation()
    {
        using var scope = NewDisposeScope();
        double[] pc = { -1.0, -3.5, -0.2 }, pr = { -2.0, -1.0, -0.1 }, rc = { -1.5, -3.0, -0.3 }, rr = { -1.8, -1.2, -0.4 };
        const double beta = 0.3, gamma = 0.7;
        double expected = 0;
        for (int i = 0; i < 3; i++)
        {
            double z = beta * ((pc[i] - rc[i]) - (pr[i] - rr[i])) - gamma;
            expected += Math.Log(1 + Math.Exp(-z)) / 3;
        }
        var t = (double[] v) => tensor(v, ScalarType.Float64);
        var result = new MarginDpo(beta, gamma).Compute(new PreferenceLogProbs(t(pc), t(pr), t(rc), t(rr), ones(3), ones(3)));
        Assert.Equal(expected, result.Loss.ToDouble(), 12);
        Assert.Equal(beta * (pc[1] - rc[1]), result.ChosenRewards[1].ToDouble(), 12);
    }

    [Fact]
    public void FocalLoss_at_gamma_zero_is_cross_entropy_and_down_weights_easy_examples()
    {
        using var scope = NewDisposeScope();
        var logits = tensor(new float[] { 3f, 0f, 0f, 0.2f, 0f, 0.1f }).view(2, 1, 3);
        var targets = tensor(new long[] { 0, 1 }).view(2, 1);
        var input = new CompetenceInput(logits, targets, ones(2, 1), null, new TrainingProgress(0, 1));
        double ce = nn.functional.cross_entropy(logits.view(2, 3), targets.view(2)).ToDouble();
        Assert.Equal(ce, new FocalLoss(0).Loss(input).ToDouble(), 5);
        Assert.True(new FocalLoss(2).Loss(input).ToDouble() < ce);
    }

    [Fact]
    public void WarmupThenAlternate_plans_competence_then_alternates()
    {
        var schedule = new WarmupThenAlternate(0.5);
        var phases = Enumerable.Range(0, 8).Select(s => schedule.Plan(s, 8).Phase).ToArray();
        Assert.Equal(new[]
        {
            TrainingPhase.Competence, TrainingPhase.Competence, TrainingPhase.Competence, TrainingPhase.Competence,
            TrainingPhase.Competence, TrainingPhase.Conformity, TrainingPhase.Competence, TrainingPhase.Conformity,
        }, phases);
    }

    [Fact]
    public void MyClassifier_trains_with_the_optimizer_and_clones()
    {
        using var scope = NewDisposeScope();
        torch.random.manual_seed(3);
        using var student = new MyClassifier(4, 3, CPU);
        var x = randn(64, 4);
        var y = x.narrow(1, 0, 3).argmax(1);
        var data = Superalign.Data.SupervisedDataset.ForClassification(x, y);
        using var optimizer = new AlternatingOptimizer(student, new FocalLoss(), null,
            new AlternatingOptimizerOptions { TotalSteps = 60, LearningRate = 1e-2, Schedule = AlternationSchedules.CompetenceOnly() });
        var reports = optimizer.Train(data.Batches(32, seed: 1), null);
        Assert.True(reports[^1].Loss < reports[0].Loss, $"loss {reports[0].Loss} -> {reports[^1].Loss}");
        using var copy = (MyClassifier)student.Clone();
        TorchAssert.Close(student.ClassLogits(x), copy.ClassLogits(x), 0, 0, "clone gives the same logits");
    }

    [Fact]
    public void MyProtocol_runs_reports_writes_json_and_rejects_bad_options()
    {
        string path = Path.Combine(Path.GetTempPath(), $"superalign-my-protocol-{Guid.NewGuid():N}", "result.json");
        var reports = new List<ProtocolProgress>();
        var result = new MyProtocol(new MyProtocolOptions { Seeds = [0], Steps = 30, OutputPath = path }).Run(new SyncProgress(reports.Add));
        try
        {
            var accuracy = Assert.Single(result.RewardAccuracies);
            Assert.InRange(accuracy, 0, 1);
            var report = Assert.Single(reports);
            Assert.Equal(("my-protocol", 1, 1), (report.Protocol, report.Done, report.Total));
            var read = ProtocolJson.Deserialize<MyProtocolResult>(File.ReadAllText(path));
            Assert.Equal(result.RewardAccuracies, read.RewardAccuracies);
            Assert.Equal(30, read.Options.Steps);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
        Assert.Equal("Steps", Assert.Throws<ArgumentOutOfRangeException>(() => new MyProtocol(new MyProtocolOptions { Steps = 2 })).ParamName);
        var entry = ProtocolEntry.For<MyProtocolOptions, MyProtocolResult>("my-protocol", "test", (o, l) => new MyProtocol(o, l));
        var options = (MyProtocolOptions)entry.ReadOptions("""{ "seeds": [4, 5], "steps": 12 }""");
        Assert.Equal([4, 5], options.Seeds);
        Assert.Equal(12, options.Steps);
        Assert.Equal("my-protocol", entry.Create(options).Name);
    }

    private sealed class SyncProgress(Action<ProtocolProgress> report) : IProgress<ProtocolProgress>
    {
        public void Report(ProtocolProgress value) => report(value);
    }
}

// extending:source:begin
/// <summary>Random rows, forever: a source whose random stream survives a checkpoint.</summary>
public sealed class RandomRows(SupervisedDataset data, int batchSize, int seed) : IBatchSource<SupervisedBatch>, ICheckpointable
{
    private long _drawn;
    private Random _random = new(seed);

    public SupervisedBatch Next()
    {
        _drawn++;
        return data.Select(Enumerable.Range(0, batchSize).Select(_ => (long)_random.Next(data.Count)).ToArray());
    }

    public void SaveState(CheckpointWriter writer)
    {
        writer.Write("seed", seed);
        writer.Write("drawn", _drawn);
    }

    public Action PrepareRestore(CheckpointReader reader)
    {
        if (reader.ReadInt64("seed") != seed) throw reader.Invalid("seed", "the source was saved with another seed.");
        long drawn = reader.ReadInt64("drawn", 0, long.MaxValue);
        // Replays the draws on a fresh generator; nothing of this source changes until the action runs.
        var random = new Random(seed);
        for (long i = 0; i < drawn * batchSize; i++) random.Next(data.Count);
        return () => (_random, _drawn) = (random, drawn);
    }
}
// extending:source:end
