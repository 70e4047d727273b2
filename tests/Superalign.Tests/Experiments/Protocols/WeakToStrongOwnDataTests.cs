using Superalign.Data;
using Superalign.Experiments.Protocols;
using Superalign.Objectives.Competence;
using Superalign.Students;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Experiments.Protocols;

/// <summary>Weak-to-strong on your own table: standardisation, per-model training settings and the objective's own options.</summary>
public sealed class WeakToStrongOwnDataTests
{
    private static readonly WeakToStrongOptions Quick = new() { Seeds = [0], Steps = 40, BootstrapResamples = 20 };

    /// <summary>A 2-class rule on 3 features with wildly different scales (1e3, 1, 1e-2) and a constant column.</summary>
    private static (ClassificationTable Train, ClassificationTable Test) Tables()
    {
        var random = new Random(4);
        var rows = Enumerable.Range(0, 300).Select(_ => Enumerable.Range(0, 3).Select(_ => random.NextDouble() * 2 - 1).ToArray()).ToArray();
        var features = rows.SelectMany(x => new[] { (float)(1000 * x[0] + 500), (float)x[1], (float)(0.01 * x[2]), 7f }).ToArray();
        var labels = rows.Select(x => x[0] + x[1] * x[2] > 0 ? 1L : 0L).ToArray();
        var table = new ClassificationTable(tensor(features, [300, 4]), tensor(labels), ["a", "b", "c", "k"], 2);
        return DataSplits.TrainTest(table, 0.3, seed: 2);
    }

    private static WeakToStrongSetup Setup(ClassificationTable train, ClassificationTable test) => new(train, test,
        [new WeakToStrongModel("logistic", r => new MlpClassifier(new MlpClassifierOptions(4, 2, Depth: 0, Seed: r.Seed + 1), CPU))],
        [new WeakToStrongModel("mlp", r => new MlpClassifier(new MlpClassifierOptions(4, 2, HiddenWidth: 16, Depth: 1, Seed: r.Seed), CPU))]);

    private static WeakToStrongRow Run(WeakToStrongSetup setup, WeakToStrongOptions options)
    {
        using var threads = TorchThreads.Single();
        return Assert.Single(new WeakToStrong(setup, options).Run().Rows);
    }

    [Fact]
    public void Standardising_equals_training_on_tables_standardised_by_hand_with_training_statistics()
    {
        using var scope = NewDisposeScope();
        var (train, test) = Tables();
        // By hand: μ and the population σ of each training column (σ = 1 for the constant one), applied to both tables.
        var x = train.Features.to_type(ScalarType.Float64).data<double>().ToArray();
        int n = (int)train.Features.shape[0];
        var mu = Enumerable.Range(0, 4).Select(j => Enumerable.Range(0, n).Average(i => x[i * 4 + j])).ToArray();
        var sigma = Enumerable.Range(0, 4).Select(j => Math.Sqrt(Enumerable.Range(0, n).Average(i => Math.Pow(x[i * 4 + j] - mu[j], 2)))).Select(s => s < 1e-9 ? 1 : s).ToArray();
        ClassificationTable ByHand(ClassificationTable t)
        {
            var v = t.Features.to_type(ScalarType.Float64).data<double>().ToArray();
            return t with { Features = tensor(v.Select((value, k) => (float)((value - mu[k % 4]) / sigma[k % 4])).ToArray(), t.Features.shape) };
        }
        var standardised = Run(Setup(train, test), Quick with { StandardizeFeatures = true });
        var byHand = Run(Setup(ByHand(train), ByHand(test)), Quick);
        Assert.Equal((byHand.WeakAccuracy, byHand.StudentAccuracy, byHand.CeilingAccuracy),
            (standardised.WeakAccuracy, standardised.StudentAccuracy, standardised.CeilingAccuracy));
        // And it is not a no-op on these scales.
        var raw = Run(Setup(train, test), Quick);
        Assert.NotEqual((raw.WeakAccuracy, raw.CeilingAccuracy), (standardised.WeakAccuracy, standardised.CeilingAccuracy));
    }

    [Fact]
    public void Each_model_s_training_settings_reach_that_model_only()
    {
        using var scope = NewDisposeScope();
        var (train, test) = Tables();
        var setup = Setup(train, test);
        var options = Quick with { StandardizeFeatures = true };
        var baseline = Run(setup, options);
        // Null settings are the shared ones.
        Assert.Equal(baseline, Run(setup, options with { StudentTraining = new TrainingSettings { Steps = 40, LearningRate = 1e-2, BatchSize = 64 } }) with { Seed = baseline.Seed });

        var student = Run(setup, options with { StudentTraining = new TrainingSettings { LearningRate = 1e-4 } });
        Assert.Equal((baseline.WeakAccuracy, baseline.CeilingAccuracy), (student.WeakAccuracy, student.CeilingAccuracy));
        var ceiling = Run(setup, options with { CeilingTraining = new TrainingSettings { Epochs = 0.5, BatchSize = 8 } });
        Assert.Equal((baseline.WeakAccuracy, baseline.StudentAccuracy), (ceiling.WeakAccuracy, ceiling.StudentAccuracy));
        Assert.NotEqual(baseline.CeilingAccuracy, ceiling.CeilingAccuracy);
        // 40 updates at 1e-2 leave this logistic weak model near its (here inverted) initialisation; 200 at 0.1 train it.
        var weak = Run(setup, options with { WeakTraining = new TrainingSettings { Steps = 200, LearningRate = 0.1 } });
        Assert.Equal(baseline.CeilingAccuracy, weak.CeilingAccuracy);
        Assert.NotEqual(baseline.WeakAccuracy, weak.WeakAccuracy);
    }

    [Fact]
    public void Epochs_become_updates_over_the_model_s_rows()
    {
        // ⌈2.5 · 105 / 32⌉ = ⌈8.203⌉ = 9; null fields take the shared values.
        Assert.Equal((9, 0.01, 32), new TrainingSettings { Epochs = 2.5, BatchSize = 32 }.Resolve(400, 0.01, 64, 105));
        Assert.Equal((400, 0.5, 64), new TrainingSettings { LearningRate = 0.5 }.Resolve(400, 0.01, 64, 105));
        Assert.Equal((1, 0.01, 64), new TrainingSettings { Epochs = 1e-6 }.Resolve(400, 0.01, 64, 105));
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new WeakToStrong(new WeakToStrongOptions { StudentTraining = new TrainingSettings { Steps = 3, Epochs = 1 } }));
        Assert.Equal("StudentTraining.Epochs", error.ParamName);
        Assert.Equal("WeakTraining.LearningRate", Assert.Throws<ArgumentOutOfRangeException>(() => new WeakToStrong(new WeakToStrongOptions { WeakTraining = new TrainingSettings { LearningRate = 0 } })).ParamName);
    }

    [Fact]
    public void Logconf_options_reach_the_objective_and_misfits_are_named()
    {
        using var scope = NewDisposeScope();
        var (train, test) = Tables();
        var setup = Setup(train, test);
        var options = Quick with { StandardizeFeatures = true };
        // logconf with α = 0 trains on the weak labels alone: the same loss as xent, so the same student.
        var xent = Run(setup, options);
        var alphaZero = Run(setup, options with { CompetenceLoss = "logconf", CompetenceOptions = new CompetenceObjectiveOptions { Alpha = 0 } });
        Assert.Equal(xent.StudentAccuracy, alphaZero.StudentAccuracy);
        var created = (LogConfidenceObjective)new CompetenceObjectiveOptions { Alpha = 0.75, WarmupFraction = 0, Hardening = Hardening.Argmax }.Create("logconf");
        Assert.Equal((0.75, 0.0, Hardening.Argmax), (created.Alpha, created.WarmupFraction, created.Hardening));

        var misfit = Assert.Throws<ArgumentOutOfRangeException>(() => new WeakToStrong(new WeakToStrongOptions { CompetenceOptions = new CompetenceObjectiveOptions { Alpha = 0.5 } }));
        Assert.Equal("CompetenceOptions", misfit.ParamName);
        Assert.Contains("xent", misfit.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new WeakToStrong(new WeakToStrongOptions { CompetenceLoss = "logconf", CompetenceOptions = new CompetenceObjectiveOptions { Alpha = 2 } }));
    }
}
