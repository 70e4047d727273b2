using Superalign.Checkpoints;
using Superalign.Data;
using Superalign.Objectives.Competence;
using Superalign.Objectives.Conformity;
using Superalign.Optimization;
using Superalign.Reference;
using Superalign.Students;
using static TorchSharp.torch;

namespace Superalign.TestHost;

/// <summary>
/// Small, deterministic training runs that exercise every piece of state a checkpoint must carry: AdamW moments and
/// the learning-rate position (all), joint PCGrad with gradient accumulation, a TR-DPO reference that follows the
/// policy, a curriculum source, libtorch's generator (dropout in a tiny LM), the direction search, and TorchSharp's own
/// AdamW. Everything is built from fixed seeds, so two scenarios of one name train identically.
/// </summary>
public sealed class TrainingScenario : IDisposable
{
    public static IReadOnlyList<string> Names { get; } = ["plain", "pcgrad-accumulation", "trdpo", "lm-dropout", "search-curriculum", "torch-adamw"];

    private readonly List<IDisposable> _owned = [];

    private TrainingScenario(string name) => Name = name;

    public string Name { get; }

    public required IStudent Student { get; init; }

    public required AlternatingOptimizer Optimizer { get; init; }

    public IBatchSource<SupervisedBatch>? Competence { get; init; }

    public IBatchSource<PreferenceBatch>? Conformity { get; init; }

    public long TotalSteps => Optimizer.Options.TotalSteps;

    /// <summary>The scenario <paramref name="name"/>; seeds libtorch's global generator first, as a reproducible run does.</summary>
    public static TrainingScenario Create(string name)
    {
        random.manual_seed(2024);
        return Build(name);
    }

    private static TrainingScenario Build(string name) => name switch
    {
        "plain" => Classifier(name, o => o with { Schedule = AlternationSchedules.FixedRatio(1, 2), WarmupSteps = 5 }, cachedReference: true),
        "pcgrad-accumulation" => Classifier(name, o => o with { Schedule = AlternationSchedules.Joint(1, 0.5), ConflictMode = ConflictMode.ProjectConflicting, GradientAccumulationSteps = 2 }, cachedReference: true),
        "trdpo" => Classifier(name, o => o with { Schedule = AlternationSchedules.FixedRatio(1, 1) }, cachedReference: false, trdpo: true),
        "search-curriculum" => Classifier(name, o => o, cachedReference: true, search: true, curriculum: true),
        "torch-adamw" => Classifier(name, o => o with { FlatParameterBuffer = false, WeightDecay = 0.01 }, cachedReference: true),
        "lm-dropout" => Lm(name),
        _ => throw new ArgumentException($"Unknown scenario '{name}'; known: {string.Join(", ", Names)}.", nameof(name)),
    };

    /// <summary>Trains to the end (with checkpoints when given) and returns the reports of this call.</summary>
    public IReadOnlyList<StepReport> Train(TrainingCheckpoints? checkpoints = null, IProgress<StepReport>? progress = null) =>
        checkpoints is null
            ? Optimizer.Train(Competence, Conformity, progress)
            : Optimizer.Train(Competence, Conformity, checkpoints, progress);

    /// <summary>Runs updates until <paramref name="steps"/> are done (at most <see cref="TotalSteps"/>).</summary>
    public void StepTo(long steps)
    {
        while (Optimizer.StepsDone < Math.Min(steps, TotalSteps)) Optimizer.Step(Competence, Conformity);
    }

    /// <summary>Writes the whole run state to <paramref name="path"/>.</summary>
    public void Save(string path) => Optimizer.SaveCheckpoint(path, Competence, Conformity);

    /// <summary>Restores the run state written by <see cref="Save"/>.</summary>
    public void Load(string path) => Optimizer.LoadCheckpoint(path, Competence, Conformity);

    /// <summary>A checkpoint of scenario <paramref name="name"/> after <paramref name="steps"/> updates, written to <paramref name="path"/>.</summary>
    public static void SaveAfter(string name, long steps, string path)
    {
        using var scenario = Create(name);
        scenario.StepTo(steps);
        scenario.Save(path);
    }

    /// <summary>The whole run state as checkpoint bytes: equal bytes mean an equal run state, bit for bit.</summary>
    public byte[] StateBytes(string scratchPath)
    {
        Optimizer.SaveCheckpoint(scratchPath, Competence, Conformity);
        return File.ReadAllBytes(scratchPath);
    }

    public void Dispose()
    {
        Optimizer.Dispose();
        foreach (var d in Enumerable.Reverse(_owned)) d.Dispose();
        Student.Dispose();
    }

    private static AlternatingOptimizerOptions BaseOptions => new()
    {
        TotalSteps = 40,
        LearningRate = 3e-3,
        LogEvery = 0,
    };

    private static TrainingScenario Classifier(string name, Func<AlternatingOptimizerOptions, AlternatingOptimizerOptions> configure,
        bool cachedReference, bool trdpo = false, bool search = false, bool curriculum = false)
    {
        const int features = 12, classes = 5, rows = 160;
        var g = new Generator(1234);
        var x = randn([rows, features], generator: g).DetachFromDisposeScope();
        var w = randn([features, classes], generator: g);
        var labels = x.matmul(w).argmax(1).DetachFromDisposeScope();
        var rejected = labels.add(1).remainder(classes).DetachFromDisposeScope();
        var student = new MlpClassifier(new MlpClassifierOptions(features, classes, HiddenWidth: 24, Depth: 2, Seed: 5), CPU);
        var competence = SupervisedDataset.ForClassification(x, labels);
        var pairs = PreferenceDataset.ForClassification(x, labels, rejected);
        var scenario = default(TrainingScenario);
        var owned = new List<IDisposable>();
        IReferencePolicy? reference = null;
        if (cachedReference)
        {
            using var initial = student.Clone();
            pairs = pairs.WithReferenceLogProbs(initial);
        }
        else
        {
            reference = trdpo ? new SyncedReferencePolicy(student, alpha: 0.5, syncEvery: 3) : FrozenReferencePolicy.CopyOf(student);
            owned.Add(reference);
        }
        var options = configure(BaseOptions);
        IBatchSource<SupervisedBatch> competenceBatches = competence.Batches(24, seed: 11);
        if (curriculum)
        {
            var confidence = Enumerable.Range(0, rows).Select(i => (double)((i * 37) % rows) / rows).ToList();
            competenceBatches = competence.CurriculumBatches(confidence, 16, totalBatches: 60, stages: 3, seed: 13);
        }
        if (search)
        {
            options = options with
            {
                DirectionSearch = new DirectionSearchOptions
                {
                    Every = 4,
                    CompetenceProbes = competence.Batches(32, seed: 17),
                    ConformityProbes = pairs.Batches(32, seed: 19),
                },
            };
        }
        var optimizer = new AlternatingOptimizer(student, CompetenceObjectives.Create("ce"), ConformityObjectives.Create("sigmoid", beta: 0.5), options, reference);
        scenario = new TrainingScenario(name)
        {
            Student = student,
            Optimizer = optimizer,
            Competence = competenceBatches,
            Conformity = pairs.Batches(20, seed: 23),
        };
        scenario._owned.AddRange(owned);
        return scenario;
    }

    private static TrainingScenario Lm(string name)
    {
        const int vocab = 11, length = 10, rows = 48;
        var g = new Generator(99);
        var tokens = randint(1, vocab, [rows, length], generator: g).DetachFromDisposeScope();
        var mask = zeros([rows, length], dtype: ScalarType.Bool);
        mask[TensorIndex.Colon, TensorIndex.Slice(5, null)] = tensor(true);
        mask = mask.DetachFromDisposeScope();
        var rejected = randint(1, vocab, [rows, length], generator: g);
        rejected[TensorIndex.Colon, TensorIndex.Slice(null, 5)] = tokens[TensorIndex.Colon, TensorIndex.Slice(null, 5)];
        rejected = rejected.DetachFromDisposeScope();
        var student = new TinyCausalLm(new TinyCausalLmOptions(vocab, length, ModelDim: 16, Layers: 1, Heads: 2, Dropout: 0.2, Seed: 3), CPU);
        var competence = SupervisedDataset.ForCausalLm(tokens, mask);
        PreferenceDataset pairs;
        using (var initial = student.Clone()) pairs = PreferenceDataset.ForCausalLm(tokens, mask, rejected, mask).WithReferenceLogProbs(initial);
        var options = BaseOptions with { TotalSteps = 30, Schedule = AlternationSchedules.FixedRatio(2, 1) };
        var optimizer = new AlternatingOptimizer(student, CompetenceObjectives.Create("ce"), ConformityObjectives.Create("sigmoid", beta: 0.5), options);
        return new TrainingScenario(name)
        {
            Student = student,
            Optimizer = optimizer,
            Competence = competence.Batches(8, seed: 29),
            Conformity = pairs.Batches(8, seed: 31),
        };
    }
}
