using System.Globalization;
using Superalign.Data;
using Superalign.Experiments.Protocols;
using Superalign.Students;
using Superalign.Supervision;
using Superalign.Experiments.Tasks;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Experiments.Protocols;

public sealed class WeakToStrongTests
{
    /// <summary>A small run for the mechanics: two seeds, short pretraining and training, hundreds of examples.</summary>
    private static readonly WeakToStrongOptions Quick = new()
    {
        Task = new RepresentationTaskOptions { PretrainSteps = 300 },
        WeakTrunks = [new TrunkSpec(8, 1)],
        StrongTrunks = [new TrunkSpec(32, 2)],
        TrainSize = 600,
        TestSize = 500,
        Seeds = [0, 1],
        Steps = 60,
        BootstrapResamples = 200,
    };

    /// <summary>Runs on one TorchSharp thread (several times faster for these tiny models on a shared machine).</summary>
    private static WeakToStrongResult Run(WeakToStrongOptions options, IProgress<ProtocolProgress>? progress = null, CancellationToken ct = default)
    {
        using var threads = TorchThreads.Single();
        return new WeakToStrong(options).Run(progress, ct);
    }

    private sealed class Recorder(Action<ProtocolProgress>? onReport = null) : IProgress<ProtocolProgress>
    {
        public List<ProtocolProgress> Reports { get; } = new();

        public void Report(ProtocolProgress value)
        {
            Reports.Add(value);
            onReport?.Invoke(value);
        }
    }

    [Fact]
    public void A_small_run_finishes_in_seconds_with_one_row_per_pair_and_seed()
    {
        var result = Run(Quick with { WeakTrunks = [new(8, 1), new(16, 1)] });

        Assert.True(result.WallSeconds < 30, $"took {result.WallSeconds:F1} s");
        Assert.Equal("representation-task", result.Data);
        Assert.Equal(CPU.ToString(), result.Device);
        Assert.Equal(new[] { 0, 1 }, result.Seeds);
        Assert.Equal(new WeakToStrongSampleSizes(600, 300, 300, 500, 8, 3), result.SampleSizes);
        Assert.Equal(new[] { "w8-d1", "w16-d1", "w32-d2" }, result.Trunks.Select(t => t.Spec.Name));
        Assert.Equal(4, result.Rows.Count);
        Assert.Equal(
            new[] { ("w8-d1", 0), ("w16-d1", 0), ("w8-d1", 1), ("w16-d1", 1) },
            result.Rows.Select(r => (r.Weak, r.Seed)));
        Assert.All(result.Rows, r =>
        {
            Assert.Equal(SupervisionVariant.Single, r.Variant);
            Assert.Equal("w32-d2", r.Strong);
            Assert.Null(r.MemberDisagreement);
            Assert.Equal(500, r.WeakErrors.Examples);
            Assert.Equal(r.WeakErrors.WeakErrors, r.WeakErrors.Copied + r.WeakErrors.Corrected + r.WeakErrors.OtherErrors);
            // The error analysis and the accuracy are computed separately from the same predictions.
            Assert.Equal((int)Math.Round((1 - r.WeakAccuracy) * 500), r.WeakErrors.WeakErrors);
            Assert.All(new[] { r.WeakEce, r.StudentEce, r.CeilingEce, r.Agreement }, v => Assert.InRange(v, 0, 1));
        });
        // One ceiling per (strong, seed), shared by every weak model: the same ceiling accuracy in both rows of a seed.
        foreach (var seed in result.Rows.GroupBy(r => r.Seed))
            Assert.Single(seed.Select(r => r.CeilingAccuracy).Distinct());
        Assert.Equal(2, result.Pairs.Count);
        Assert.Single(result.StrongSizes);
        Assert.Single(result.Variants);
    }

    [Theory]
    [InlineData("xent")]
    [InlineData("logconf")]
    public void On_the_built_in_task_the_student_beats_its_weak_supervisor_on_every_seed(string loss)
    {
        var options = new WeakToStrongOptions
        {
            WeakTrunks = [new TrunkSpec(8, 1), new TrunkSpec(16, 1)],
            StrongTrunks = [new TrunkSpec(64, 3)],
            TrainSize = 4000,
            TestSize = 4000,
            Seeds = [0, 1, 2],
            Steps = 300,
            CompetenceLoss = loss,
            BootstrapResamples = 500,
        };
        var result = Run(options);

        Assert.Equal(6, result.Rows.Count);
        foreach (var r in result.Rows)
        {
            string where = $"seed {r.Seed}, {r.Weak} -> {r.Strong}";
            // The strong trunk really knows more: its ceiling beats the weak model clearly, so PGR is defined.
            Assert.True(r.CeilingAccuracy > r.WeakAccuracy + 0.04, $"{where}: ceiling {r.CeilingAccuracy:P1} vs weak {r.WeakAccuracy:P1}");
            Assert.Null(r.ExclusionReason);
            // The student, trained only on the weak labels, beats its supervisor ...
            Assert.True(r.StudentAccuracy > r.WeakAccuracy + 0.015, $"{where}: student {r.StudentAccuracy:P1} vs weak {r.WeakAccuracy:P1}");
            Assert.True(r.WeakErrors.Corrected > r.WeakErrors.WeakErrors / 10, $"{where}: corrected {r.WeakErrors.Corrected} of {r.WeakErrors.WeakErrors}");
            // ... by more than the test set's noise: the paired bootstrap interval of the PGR lies above 0.
            Assert.True(r.PgrInterval.Lower > 0, $"{where}: PGR interval [{r.PgrInterval.Lower:F3}, {r.PgrInterval.Upper:F3}]");
            Assert.True(r.PgrInterval.Resamples > 400);

            // PGR recomputed here from the reported accuracies.
            double pgr = (r.StudentAccuracy - r.WeakAccuracy) / (r.CeilingAccuracy - r.WeakAccuracy);
            Assert.Equal(pgr, r.Pgr, 12);
            Assert.InRange(r.Pgr, 0.05, 1.0);
            Assert.Equal(r.Pgr, r.PgrInterval.Estimate, 12);
        }

        // Aggregates recomputed from the rows: the median over rows and the per-pair means over seeds.
        var sorted = result.Rows.Select(r => r.Pgr).Order().ToArray();
        double median = (sorted[2] + sorted[3]) / 2;
        Assert.Equal(median, Assert.Single(result.Variants).MedianPgr, 12);
        foreach (var pair in result.Pairs)
        {
            var values = result.Rows.Where(r => r.Weak == pair.Weak).Select(r => r.Pgr).ToArray();
            Assert.Equal(3, pair.Included);
            Assert.Equal(values.Average(), pair.Pgr!.Mean, 12);
            Assert.True(pair.Pgr.Lower < pair.Pgr.Mean && pair.Pgr.Mean < pair.Pgr.Upper);
        }
        var size = Assert.Single(result.StrongSizes);
        var perSeed = result.Rows.GroupBy(r => r.Seed).Select(g => g.Average(r => r.Pgr)).ToArray();
        Assert.Equal(perSeed.Average(), size.Pgr!.Mean, 12);
        Assert.Equal(3, size.Seeds);
    }

    [Fact]
    public void A_student_on_the_weak_models_own_trunk_gains_nothing()
    {
        // The control for the test above: same trunk for weak model and student. The student can express the weak
        // model's function exactly, so it imitates it; any gain above would have to come from elsewhere (an
        // artefact of soft labels or training). The ceiling is also no better than the weak model, so the exclusion
        // rule applies (or the PGR is noise).
        var options = new WeakToStrongOptions
        {
            WeakTrunks = [new TrunkSpec(16, 1)],
            StrongTrunks = [new TrunkSpec(16, 1)],
            TrainSize = 4000,
            TestSize = 4000,
            Seeds = [0, 1, 2],
            Steps = 300,
            BootstrapResamples = 100,
            MinimumGap = 0.02,
        };
        var result = Run(options);

        Assert.All(result.Rows, r =>
        {
            Assert.InRange(r.StudentAccuracy - r.WeakAccuracy, -0.02, 0.01);
            Assert.InRange(r.CeilingAccuracy - r.WeakAccuracy, -0.02, 0.02);
            Assert.NotNull(r.ExclusionReason);
            Assert.True(double.IsNaN(r.Pgr));
            Assert.True(r.Agreement > 0.9, $"agreement {r.Agreement:P1}");
        });
        var variant = Assert.Single(result.Variants);
        Assert.Equal((0, 3), (variant.Included, variant.Excluded));
        Assert.True(double.IsNaN(variant.MedianPgr));
        Assert.Null(Assert.Single(result.Pairs).Pgr);
    }

    [Fact]
    public void The_ensemble_variant_trains_on_diverse_weak_models_and_reports_their_disagreement()
    {
        var result = Run(Quick with { Ensemble = true, EnsembleMembers = 3, EnsembleCombination = EnsembleCombination.MajorityVote, Seeds = [0] });

        Assert.Equal(new[] { "w8-d1", "w8-d1-s1", "w8-d1-s2", "w32-d2" }, result.Trunks.Select(t => t.Spec.Name));
        Assert.Equal(new[] { SupervisionVariant.Single, SupervisionVariant.Ensemble }, result.Rows.Select(r => r.Variant));
        var single = result.Rows[0];
        var ensemble = result.Rows[1];
        Assert.Null(single.MemberDisagreement);
        var d = Assert.IsType<EnsembleDisagreement>(ensemble.MemberDisagreement);
        Assert.Equal(500, d.Examples);
        // Separately pretrained trunks make the members disagree on some, not most, examples.
        Assert.InRange(d.ArgmaxDisagreement, 0.01, 0.6);
        Assert.InRange(d.MeanPairwiseTotalVariation, 0.001, 0.6);
        // The ceiling is shared. The supervisor is the majority vote: one-hot labels, confidence 1 on every example,
        // so its calibration error is exactly its error rate (member 0's soft labels are not one-hot).
        Assert.Equal(single.CeilingAccuracy, ensemble.CeilingAccuracy);
        Assert.Equal(1 - ensemble.WeakAccuracy, ensemble.WeakEce, 12);
        Assert.True(single.WeakEce < 1 - single.WeakAccuracy - 0.05, $"member 0: ECE {single.WeakEce:F3}, accuracy {single.WeakAccuracy:P1}");
        Assert.Equal(2, result.Variants.Count);
        Assert.Equal(2, result.Pairs.Count);
    }

    [Fact]
    public void The_result_round_trips_through_json()
    {
        var result = Run(Quick with { Seeds = [3], Ensemble = true, EnsembleMembers = 2 });
        var path = Path.Combine(Directory.CreateTempSubdirectory("superalign-w2s-").FullName, "out", "result.json");
        try
        {
            ProtocolJson.Write(result, path);
            string json = File.ReadAllText(path);
            var back = ProtocolJson.Deserialize<WeakToStrongResult>(json);

            Assert.Equal(json, ProtocolJson.Serialize(back));
            Assert.Equal(result.Rows.Count, back.Rows.Count);
            Assert.Equal(result.Rows[1].Pgr, back.Rows[1].Pgr);
            Assert.Equal(result.Rows[1].MemberDisagreement, back.Rows[1].MemberDisagreement);
            Assert.Equal(result.Rows[0].PgrInterval, back.Rows[0].PgrInterval);
            Assert.Equal(result.Rows[0].WeakErrors, back.Rows[0].WeakErrors);
            Assert.Equal(new TrunkSpec(32, 2), back.Options.StrongTrunks.Single());
            Assert.Equal(result.Trunks[0], back.Trunks[0]);
            Assert.Equal(EnsembleCombination.Mean, back.Options.EnsembleCombination);
            // A single seed has no spread: NaN is written as a string and read back.
            Assert.True(double.IsNaN(back.Pairs[0].Pgr!.StandardDeviation));
            Assert.Contains("\"NaN\"", json);
            Assert.Contains("\"variant\": \"ensemble\"", json);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(Path.GetDirectoryName(path))!, recursive: true);
        }
    }

    [Fact]
    public void Same_options_give_the_same_rows()
    {
        var first = Run(Quick with { Seeds = [4] });
        var second = Run(Quick with { Seeds = [4] });
        Assert.Equal(ProtocolJson.Serialize(first.Rows), ProtocolJson.Serialize(second.Rows));
        var other = Run(Quick with { Seeds = [5] });
        Assert.NotEqual(ProtocolJson.Serialize(first.Rows.Select(r => r.StudentAccuracy)), ProtocolJson.Serialize(other.Rows.Select(r => r.StudentAccuracy)));
    }

    [Fact]
    public void Progress_counts_every_pretraining_and_training_and_cancellation_stops_the_run()
    {
        var recorder = new Recorder();
        Run(Quick, recorder);
        // 2 trunks; per seed: 1 weak + 1 ceiling + 1 student.
        Assert.Equal(Enumerable.Range(1, 8), recorder.Reports.Select(r => r.Done));
        Assert.All(recorder.Reports, r => Assert.Equal((WeakToStrong.ProtocolName, 8), (r.Protocol, r.Total)));
        Assert.Contains("seed 1: student w32-d2 trained on w8-d1 labels", recorder.Reports.Select(r => r.Stage));

        using var cts = new CancellationTokenSource();
        var cancelling = new Recorder(p => { if (p.Done == 3) cts.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() => Run(Quick, cancelling, cts.Token));
        Assert.Equal(3, cancelling.Reports.Count);
    }

    [Fact]
    public void Your_own_csv_data_and_models_run_through_the_same_protocol()
    {
        var dir = Directory.CreateTempSubdirectory("superalign-w2s-csv-").FullName;
        try
        {
            // A 2-class rule on 4 features that a linear model gets partly right and an MLP fully.
            string Csv(int rows, int seed)
            {
                var random = new Random(seed);
                var lines = new List<string> { "a,b,c,d,label" };
                for (int i = 0; i < rows; i++)
                {
                    var x = Enumerable.Range(0, 4).Select(_ => random.NextDouble() * 2 - 1).ToArray();
                    int label = x[0] * x[1] + 0.3 * x[2] > 0 ? 1 : 0;
                    lines.Add(string.Join(",", x.Select(v => v.ToString("R", CultureInfo.InvariantCulture))) + "," + label);
                }
                var path = Path.Combine(dir, $"{seed}.csv");
                File.WriteAllLines(path, lines);
                return path;
            }
            using var scope = NewDisposeScope();
            var train = DataFiles.ReadClassificationCsv(Csv(600, 1));
            var test = DataFiles.ReadClassificationCsv(Csv(400, 2));
            var weak = new WeakToStrongModel("logistic", r =>
                new MlpClassifier(new MlpClassifierOptions(4, 2, Depth: 0, Seed: r.Seed * 10 + r.Member), CPU));
            var strong = new WeakToStrongModel("mlp-64x2", r =>
                new MlpClassifier(new MlpClassifierOptions(4, 2, HiddenWidth: 64, Depth: 2, Seed: r.Seed), CPU));
            var setup = new WeakToStrongSetup(train, test, [weak], [strong]);
            using var threads = TorchThreads.Single();
            var result = new WeakToStrong(setup, new WeakToStrongOptions { Seeds = [0], Steps = 150, Ensemble = true, EnsembleMembers = 2, BootstrapResamples = 100 }).Run();

            Assert.Equal("custom", result.Data);
            Assert.Equal(CPU.ToString(), result.Device);
            Assert.Empty(result.Trunks);
            Assert.Equal(new WeakToStrongSampleSizes(600, 300, 300, 400, 4, 2), result.SampleSizes);
            Assert.Equal(new[] { ("logistic", "mlp-64x2", SupervisionVariant.Single), ("logistic", "mlp-64x2", SupervisionVariant.Ensemble) },
                result.Rows.Select(r => (r.Weak, r.Strong, r.Variant)));
            var row = result.Rows[0];
            Assert.True(row.CeilingAccuracy > row.WeakAccuracy, $"ceiling {row.CeilingAccuracy:P1} vs weak {row.WeakAccuracy:P1}");
            Assert.NotNull(result.Rows[1].MemberDisagreement);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void The_split_is_a_seeded_partition_into_halves()
    {
        using var scope = NewDisposeScope();
        var (a, b) = WeakToStrong.Split(11, seed: 3);
        var ia = a.data<long>().ToArray();
        var ib = b.data<long>().ToArray();
        Assert.Equal(5, ia.Length);
        Assert.Equal(6, ib.Length);
        Assert.Equal(Enumerable.Range(0, 11).Select(i => (long)i), ia.Concat(ib).Order());
        Assert.Equal(ia, WeakToStrong.Split(11, seed: 3).A.data<long>().ToArray());
        Assert.NotEqual(ia, WeakToStrong.Split(11, seed: 4).A.data<long>().ToArray());
    }

    public static TheoryData<WeakToStrongOptions, string> InvalidOptions => new()
    {
        { new() { WeakTrunks = [] }, nameof(WeakToStrongOptions.WeakTrunks) },
        { new() { WeakTrunks = [new(0, 1)] }, nameof(WeakToStrongOptions.WeakTrunks) },
        { new() { StrongTrunks = [new(64, 3), new(64, 3)] }, nameof(WeakToStrongOptions.StrongTrunks) },
        { new() { StrongTrunks = [new(64, 17)] }, nameof(WeakToStrongOptions.StrongTrunks) },
        { new() { TrainSize = 3 }, nameof(WeakToStrongOptions.TrainSize) },
        { new() { TestSize = 9 }, nameof(WeakToStrongOptions.TestSize) },
        { new() { Seeds = [] }, nameof(WeakToStrongOptions.Seeds) },
        { new() { Seeds = [1, 1] }, nameof(WeakToStrongOptions.Seeds) },
        { new() { CompetenceLoss = "bogus" }, nameof(WeakToStrongOptions.CompetenceLoss) },
        { new() { CompetenceLoss = "reweight" }, nameof(WeakToStrongOptions.TrustedExamples) },
        { new() { CompetenceLoss = "reweight", TrustedExamples = 0 }, nameof(WeakToStrongOptions.TrustedExamples) },
        { new() { TrustedExamples = -1 }, nameof(WeakToStrongOptions.TrustedExamples) },
        { new() { CompetenceLoss = "reweight", TrustedExamples = 32, CompetenceOptions = new() { Alpha = 0.5 } }, nameof(WeakToStrongOptions.CompetenceOptions) },
        { new() { Steps = 0 }, nameof(WeakToStrongOptions.Steps) },
        { new() { LearningRate = 0 }, nameof(WeakToStrongOptions.LearningRate) },
        { new() { LearningRate = double.PositiveInfinity }, nameof(WeakToStrongOptions.LearningRate) },
        { new() { BatchSize = 0 }, nameof(WeakToStrongOptions.BatchSize) },
        { new() { MinimumGap = -0.1 }, nameof(WeakToStrongOptions.MinimumGap) },
        { new() { MinimumGap = double.NaN }, nameof(WeakToStrongOptions.MinimumGap) },
        { new() { EnsembleMembers = 1 }, nameof(WeakToStrongOptions.EnsembleMembers) },
        { new() { EnsembleCombination = (EnsembleCombination)9 }, nameof(WeakToStrongOptions.EnsembleCombination) },
        { new() { BootstrapResamples = 0 }, nameof(WeakToStrongOptions.BootstrapResamples) },
        { new() { ConfidenceLevel = 1 }, nameof(WeakToStrongOptions.ConfidenceLevel) },
        { new() { Device = " " }, nameof(WeakToStrongOptions.Device) },
        { new() { Task = new RepresentationTaskOptions { Classes = 1 } }, nameof(RepresentationTaskOptions.Classes) },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void Invalid_options_throw_at_construction_naming_the_option(WeakToStrongOptions options, string option)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new WeakToStrong(options));
        Assert.Equal(option, error.ParamName);
        Assert.Contains(option, error.Message);
    }

    [Fact]
    public void Reweight_trains_on_a_trusted_part_of_half_a_and_leaves_the_other_models_unchanged()
    {
        var xent = Run(Quick with { Seeds = [0] });
        var reweight = Run(Quick with { Seeds = [0], CompetenceLoss = " Reweight ", TrustedExamples = 32 });

        var (a, b) = (Assert.Single(xent.Rows), Assert.Single(reweight.Rows));
        // Same split, weak model and ceiling: only the student's loss differs.
        Assert.Equal(a.WeakAccuracy, b.WeakAccuracy);
        Assert.Equal(a.CeilingAccuracy, b.CeilingAccuracy);
        Assert.NotEqual(a.StudentAccuracy, b.StudentAccuracy);
        Assert.InRange(b.StudentAccuracy, 0.4, 1.0);
        Assert.Throws<ArgumentOutOfRangeException>(() => Run(Quick with { Seeds = [0], CompetenceLoss = "reweight", TrustedExamples = 301 }));
    }

    [Fact]
    public void Trusted_examples_with_another_loss_are_added_to_the_students_data_as_ground_truth()
    {
        var xent = Run(Quick with { Seeds = [0] });
        var control = Run(Quick with { Seeds = [0], TrustedExamples = 32 });

        var (a, b) = (Assert.Single(xent.Rows), Assert.Single(control.Rows));
        Assert.Equal(a.WeakAccuracy, b.WeakAccuracy);
        Assert.Equal(a.CeilingAccuracy, b.CeilingAccuracy);
        Assert.NotEqual(a.StudentAccuracy, b.StudentAccuracy);
        Assert.Throws<ArgumentOutOfRangeException>(() => Run(Quick with { Seeds = [0], TrustedExamples = 301 }));
    }

    [Fact]
    public void Trusted_examples_stay_out_of_the_options_json_unless_set()
    {
        // Runs without reweight keep the fingerprints of their run directories.
        Assert.DoesNotContain("trustedExamples", ProtocolJson.Serialize(new WeakToStrongOptions()));
        Assert.Contains("\"trustedExamples\": 16", ProtocolJson.Serialize(new WeakToStrongOptions { CompetenceLoss = "reweight", TrustedExamples = 16 }));
    }

    [Fact]
    public void With_a_task_instance_per_seed_each_seed_pretrains_its_own_trunks_and_seed_0_is_the_shared_instance()
    {
        var shared = Run(Quick);
        var varied = Run(Quick with { TaskInstancePerSeed = true });

        Assert.Empty(varied.Trunks);
        Assert.Equal(new[] { (0, 0L), (1, 1L) }, varied.Instances!.Select(i => (i.Seed, i.TaskSeed)));
        Assert.All(varied.Instances!, i => Assert.Equal(new[] { "w8-d1", "w32-d2" }, i.Trunks.Select(t => t.Spec.Name)));
        // Seed 0 runs on task seed 0, the shared instance: the same trunks and the same row.
        Assert.Equal(shared.Trunks.Select(t => (t.Spec, t.RepresentationR2)), varied.Instances![0].Trunks.Select(t => (t.Spec, t.RepresentationR2)));
        Assert.Equal(ProtocolJson.Serialize(shared.Rows[0]), ProtocolJson.Serialize(varied.Rows[0]));
        // Seed 1 runs on another instance: other trunks, other data, another weak model.
        Assert.NotEqual(shared.Trunks[0].RepresentationR2, varied.Instances![1].Trunks[0].RepresentationR2);
        Assert.NotEqual(shared.Rows[1].WeakAccuracy, varied.Rows[1].WeakAccuracy);
        Assert.Equal(new long?[] { 0, 0 }, shared.Rows.Select(r => r.TaskSeed));
        Assert.Equal(new long?[] { 0, 1 }, varied.Rows.Select(r => r.TaskSeed));
        Assert.Equal(new[] { 0, 1 }, varied.Seeds);
    }

    [Fact]
    public void Several_losses_train_one_student_each_on_the_same_weak_labels_and_ceiling_and_pair_by_seed()
    {
        var xent = Run(Quick with { Seeds = [0] });
        var both = Run(Quick with { Seeds = [0], CompetenceLosses = ["xent", "logconf"] });

        Assert.Equal(new[] { "xent", "logconf" }, both.Rows.Select(r => r.Loss));
        // The xent row of the paired run is the xent run's row: adding a loss changes nothing upstream.
        Assert.Equal(ProtocolJson.Serialize(Assert.Single(xent.Rows)), ProtocolJson.Serialize(both.Rows[0]));
        var (a, b) = (both.Rows[0], both.Rows[1]);
        Assert.Equal((a.WeakAccuracy, a.CeilingAccuracy, a.WeakBrier), (b.WeakAccuracy, b.CeilingAccuracy, b.WeakBrier));
        Assert.NotEqual(a.StudentAccuracy, b.StudentAccuracy);
        var all = both.LossDifferences![0];
        Assert.Equal(("all", "logconf", "xent"), (all.Weak, all.Loss, all.Baseline));
        Assert.Equal(b.Pgr - a.Pgr, all.Pgr!.Mean, 12);
        Assert.Equal(b.StudentAccuracy - a.StudentAccuracy, all.StudentAccuracy.Mean, 12);
        Assert.Equal(2, both.Pairs.Count);
        Assert.Equal(new[] { "xent", "logconf" }, both.Variants.Select(v => v.Loss));
        foreach (var r in both.Rows)
        {
            Assert.InRange(r.Misfit, 1e-6, 2);
            Assert.InRange(r.WeakBrier, 0, 2);
            Assert.Equal(r.WeakBrier - r.StudentBrier, r.BrierGain, 15);
        }
        var misfit = both.MisfitSummaries!.Single(m => m.Loss == "xent");
        Assert.Equal(a.Misfit, misfit.Misfit, 15);
    }

    [Fact]
    public void Reweight_in_a_list_gives_the_other_losses_the_trusted_examples_as_their_control()
    {
        var control = Run(Quick with { Seeds = [0], TrustedExamples = 32 });
        var reweight = Run(Quick with { Seeds = [0], CompetenceLoss = "reweight", TrustedExamples = 32 });
        var both = Run(Quick with { Seeds = [0], CompetenceLosses = ["xent", "reweight"], TrustedExamples = 32 });

        Assert.Equal(control.Rows[0].StudentAccuracy, both.Rows[0].StudentAccuracy);
        Assert.Equal(reweight.Rows[0].StudentAccuracy, both.Rows[1].StudentAccuracy);
        Assert.Equal("reweight", both.Rows[1].Loss);
    }

    [Theory]
    [InlineData("")]
    [InlineData("xent,XENT")]
    [InlineData("xent,nope")]
    [InlineData("xent,reweight")] // reweight without trusted examples
    public void A_bad_loss_list_is_refused_naming_the_option(string list)
    {
        string[] losses = list.Length == 0 ? [] : list.Split(',');
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new WeakToStrong(Quick with { CompetenceLosses = losses }));
        Assert.Contains(error.ParamName, new[] { nameof(WeakToStrongOptions.CompetenceLosses), nameof(WeakToStrongOptions.TrustedExamples) });
    }

    [Fact]
    public void In_a_loss_list_objective_options_apply_to_the_losses_that_take_them()
    {
        var hardening = new CompetenceObjectiveOptions { Hardening = Superalign.Objectives.Competence.Hardening.MatchWeakMarginals };
        var options = Quick with { CompetenceLosses = ["xent", "logconf"], CompetenceOptions = hardening };
        Assert.False(options.TakesCompetenceOptions("xent"));
        Assert.True(options.TakesCompetenceOptions("logconf"));
        _ = new WeakToStrong(options);
        // No loss of the list takes them, or the one that does gets a value out of range: refused, naming the option.
        Assert.Equal(nameof(WeakToStrongOptions.CompetenceOptions), Assert.Throws<ArgumentOutOfRangeException>(() =>
            new WeakToStrong(Quick with { CompetenceLosses = ["xent", "kl"], CompetenceOptions = hardening })).ParamName);
        Assert.Equal(nameof(WeakToStrongOptions.CompetenceOptions), Assert.Throws<ArgumentOutOfRangeException>(() =>
            new WeakToStrong(Quick with { CompetenceLosses = ["xent", "logconf"], CompetenceOptions = new CompetenceObjectiveOptions { Alpha = 2 } })).ParamName);
    }

    [Fact]
    public void The_new_options_stay_out_of_the_options_json_unless_set()
    {
        // Runs without them keep their run directories' fingerprints.
        string json = ProtocolJson.Serialize(new WeakToStrongOptions());
        Assert.DoesNotContain("taskInstancePerSeed", json);
        Assert.DoesNotContain("competenceLosses", json);
        Assert.Contains("\"taskInstancePerSeed\": true", ProtocolJson.Serialize(new WeakToStrongOptions { TaskInstancePerSeed = true }));
    }

    [Fact]
    public void The_defaults_are_valid_and_use_xent()
    {
        var protocol = new WeakToStrong();
        Assert.Equal("xent", protocol.Options.CompetenceLoss);
        Assert.Equal(3, protocol.Options.Seeds.Count);
        Assert.True(protocol.Options.TestSize >= 1000);
    }
}
