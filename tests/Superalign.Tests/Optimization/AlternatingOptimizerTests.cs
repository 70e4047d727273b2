using Superalign.Data;
using Superalign.Objectives;
using Superalign.Reference;
using Superalign.Optimization;
using Superalign.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Optimization;

public class AlternatingOptimizerTests
{
    private const int F = 6, C = 3, N = 96;

    private static (SupervisedDataset Sup, PreferenceDataset Pref) Data(long seed)
    {
        var (x, y) = ToyData.Classification(N, F, C, seed);
        // "Values": class 0 is preferred to class 2 for every input.
        var chosen = zeros(N, dtype: ScalarType.Int64);
        var rejected = full(N, 2L, dtype: ScalarType.Int64);
        return (SupervisedDataset.ForClassification(x, y), PreferenceDataset.ForClassification(x, chosen, rejected));
    }

    private static double[] Weights(IStudent s) =>
        s.Parameters().SelectMany(p => p.detach().cpu().data<float>().ToArray().Select(v => (double)v)).ToArray();

    private static double CompetenceLoss(IStudent s, SupervisedDataset d)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var b = d.Select(Enumerable.Range(0, d.Count).Select(i => (long)i).ToArray());
        return new TestCrossEntropy().Loss(new CompetenceInput(s.Logits(b.Responses), b.Responses.Targets, b.Responses.Mask, null, default)).ToDouble();
    }

    private static double ConformityLoss(IStudent s, PreferenceDataset d)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var b = d.Select(Enumerable.Range(0, d.Count).Select(i => (long)i).ToArray());
        var (pc, pr) = LogProbs.Pair(s, b);
        return new TestDpo().Compute(new PreferenceLogProbs(pc, pr, b.ReferenceChosen, b.ReferenceRejected, b.Chosen.Lengths(), b.Rejected.Lengths())).Loss.ToDouble();
    }

    /// <summary>Returns the test cross-entropy as a float64 tensor of shape [1] (a scalar in another dtype and shape).</summary>
    private sealed class Float64ShapeOneLoss : ICompetenceObjective
    {
        public string Name => "ce-f64-[1]";
        public bool RequiresSoftTargets => false;
        public Tensor Loss(CompetenceInput input) => new TestCrossEntropy().Loss(input).to_type(ScalarType.Float64).reshape(1);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_report_carries_the_loss_and_accuracy_of_the_batch_before_the_update(bool float64ShapeOne)
    {
        var (sup, _) = Data(4);
        using var student = new LinearTestStudent(F, C, seed: 4);
        double expectedLoss = CompetenceLoss(student, sup);
        double expectedAccuracy;
        using (no_grad())
        using (NewDisposeScope())
        {
            var all = sup.Select(Enumerable.Range(0, N).Select(i => (long)i).ToArray());
            expectedAccuracy = (student.Logits(all.Responses).argmax(-1) == all.Responses.Targets).to_type(ScalarType.Float64).mean().ToDouble();
        }
        ICompetenceObjective objective = float64ShapeOne ? new Float64ShapeOneLoss() : new TestCrossEntropy();
        var options = new AlternatingOptimizerOptions { TotalSteps = 1, LearningRate = 0.05, Schedule = AlternationSchedules.CompetenceOnly() };
        using var opt = new AlternatingOptimizer(student, objective, null, options);
        var report = opt.Step(sup.Batches(N, seed: 4), null); // one batch = the whole set, shuffled

        Assert.Equal(expectedLoss, report.CompetenceLoss!.Value, 5);
        Assert.Equal(expectedLoss, report.Loss, 5);
        Assert.Equal(expectedAccuracy, report.Metrics[MetricNames.CompetenceAccuracy], 6);
    }

    [Fact]
    public void Each_phase_lowers_its_own_loss()
    {
        var (sup, pref) = Data(1);
        using var student = new LinearTestStudent(F, C, seed: 1);
        using var reference = FrozenReferencePolicy.CopyOf(student);
        var cached = pref.WithReferenceLogProbs(reference.Reference);
        double c0 = CompetenceLoss(student, sup), f0 = ConformityLoss(student, cached);

        var competenceOnly = new AlternatingOptimizerOptions { TotalSteps = 60, LearningRate = 0.05, Schedule = AlternationSchedules.CompetenceOnly() };
        using (var opt = new AlternatingOptimizer(student, new TestCrossEntropy(), new TestDpo(), competenceOnly))
            opt.Train(sup.Batches(32, seed: 1), null);
        double c1 = CompetenceLoss(student, sup);
        Assert.True(c1 < 0.7 * c0, $"competence loss {c0:F4} -> {c1:F4}");

        var conformityOnly = competenceOnly with { Schedule = AlternationSchedules.ConformityOnly() };
        double f1Before = ConformityLoss(student, cached);
        using (var opt = new AlternatingOptimizer(student, new TestCrossEntropy(), new TestDpo(), conformityOnly))
            opt.Train(null, cached.Batches(32, seed: 2));
        double f1 = ConformityLoss(student, cached);
        Assert.True(f1 < 0.7 * f1Before, $"conformity loss {f1Before:F4} -> {f1:F4} (initial {f0:F4})");
    }

    [Fact]
    public void Reports_follow_the_fixed_ratio_pattern_and_carry_trl_metrics()
    {
        var (sup, pref) = Data(2);
        using var student = new LinearTestStudent(F, C, seed: 2);
        using var reference = FrozenReferencePolicy.CopyOf(student);
        var options = new AlternatingOptimizerOptions { TotalSteps = 10, Schedule = AlternationSchedules.FixedRatio(3, 2) };
        using var opt = new AlternatingOptimizer(student, new TestCrossEntropy(), new TestDpo(), options, reference);
        var reports = opt.Train(sup.Batches(16), pref.Batches(16));
        Assert.Equal("cccffcccff", string.Concat(reports.Select(r => r.Phase == TrainingPhase.Competence ? 'c' : 'f')));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), reports.Select(r => r.Step));
        foreach (var r in reports.Where(r => r.Phase == TrainingPhase.Conformity))
        {
            Assert.NotNull(r.ConformityLoss);
            Assert.Null(r.CompetenceLoss);
            Assert.InRange(r.Metric(MetricNames.RewardsAccuracies), 0, 1);
            Assert.Equal(r.Metric(MetricNames.RewardsChosen) - r.Metric(MetricNames.RewardsRejected), r.Metric(MetricNames.RewardsMargins), 5);
            Assert.True(r.Metric(MetricNames.LogpsChosen) <= 0);
        }
        Assert.InRange(reports[0].Metric(MetricNames.CompetenceAccuracy), 0, 1);
    }

    [Fact]
    public void Rewards_are_zero_while_the_policy_equals_the_reference()
    {
        var (_, pref) = Data(2);
        using var student = new LinearTestStudent(F, C, seed: 2);
        using var reference = FrozenReferencePolicy.CopyOf(student);
        using var opt = new AlternatingOptimizer(student, null, new TestDpo(),
            new AlternatingOptimizerOptions { TotalSteps = 2, Schedule = AlternationSchedules.ConformityOnly() }, reference);
        var first = opt.Step(null, pref.Batches(16));
        Assert.Equal(0.0, first.Metric(MetricNames.RewardsChosen));
        Assert.Equal(0.0, first.Metric(MetricNames.RewardsMargins));
        Assert.Equal(0.0, first.Metric(MetricNames.RewardsAccuracies)); // strict comparison: ties do not count
        TorchAssert.Close(Math.Log(2), first.ConformityLoss!.Value, 1e-6, what: "DPO loss at the reference");
        var second = opt.Step(null, pref.Batches(16));
        Assert.True(second.Metric(MetricNames.RewardsMargins) > 0);
    }

    [Fact]
    public void Cached_reference_gives_the_same_loss_and_gradients_as_the_live_reference()
    {
        var (_, pref) = Data(3);
        using var student = new LinearTestStudent(F, C, seed: 3);
        // Move the policy away from the reference so the reference terms matter.
        using var reference = new FrozenReferencePolicy(new LinearTestStudent(F, C, seed: 33), ownsReference: true);
        var cached = pref.WithReferenceLogProbs(reference.Reference);
        var idx = Enumerable.Range(0, 40).Select(i => (long)(i * 2)).ToArray();

        (double Loss, float[] Grad) Run(PreferenceBatch batch, IReferencePolicy? live)
        {
            using var scope = NewDisposeScope();
            foreach (var p in student.Parameters()) p.grad?.zero_();
            var (pc, pr) = LogProbs.Pair(student, batch);
            var (rc, rr) = live is null ? (batch.ReferenceChosen!, batch.ReferenceRejected!) : live.LogProbs(batch);
            var loss = new TestDpo().Compute(new PreferenceLogProbs(pc, pr, rc, rr, batch.Chosen.Lengths(), batch.Rejected.Lengths())).Loss;
            loss.backward();
            return (loss.ToDouble(), student.Parameters().SelectMany(p => p.grad!.data<float>().ToArray()).ToArray());
        }

        var live = Run(pref.Select(idx), reference);
        var fromCache = Run(cached.Select(idx), null);
        Assert.True(cached.HasCachedReference);
        TorchAssert.Close(live.Loss, fromCache.Loss, 1e-6, what: "loss");
        for (int i = 0; i < live.Grad.Length; i++) TorchAssert.Close(live.Grad[i], fromCache.Grad[i], 1e-6, what: $"grad[{i}]");
    }

    [Fact]
    public void Same_seed_gives_identical_weights()
    {
        double[] Run()
        {
            var (sup, pref) = Data(4);
            using var student = new LinearTestStudent(F, C, seed: 4);
            using var reference = FrozenReferencePolicy.CopyOf(student);
            var options = new AlternatingOptimizerOptions { TotalSteps = 12, WarmupSteps = 3 };
            using var opt = new AlternatingOptimizer(student, new TestCrossEntropy(), new TestDpo(), options, reference);
            opt.Train(sup.Batches(16, seed: 7), pref.Batches(16, seed: 8));
            return Weights(student);
        }
        Assert.Equal(Run(), Run());
    }

    [Fact]
    public void Non_finite_loss_names_step_and_phase_and_leaves_parameters_unchanged()
    {
        var (sup, _) = Data(5);
        using var student = new LinearTestStudent(F, C, seed: 5);
        var poisoned = new PoisonedObjective(new TestCrossEntropy());
        var options = new AlternatingOptimizerOptions { TotalSteps = 10, Schedule = AlternationSchedules.CompetenceOnly() };
        using var opt = new AlternatingOptimizer(student, poisoned, null, options);
        var batches = sup.Batches(16);
        opt.Step(batches, null);
        opt.Step(batches, null);
        var before = Weights(student);
        poisoned.Poison = true;
        var ex = Assert.Throws<NonFiniteLossException>(() => opt.Step(batches, null));
        Assert.Equal(2, ex.Step);
        Assert.Equal(TrainingPhase.Competence, ex.Phase);
        Assert.Contains("step 2", ex.Message);
        Assert.Contains("Competence", ex.Message);
        Assert.Equal(before, Weights(student));
        Assert.Equal(2, opt.StepsDone);
        // Training resumes cleanly once the loss is finite again.
        poisoned.Poison = false;
        Assert.Equal(2, opt.Step(batches, null).Step);
    }

    [Fact]
    public void Gradient_accumulation_equals_one_large_batch()
    {
        var (sup, _) = Data(6);
        double[] Run(int micro, int batch)
        {
            using var student = new LinearTestStudent(F, C, seed: 6);
            var options = new AlternatingOptimizerOptions
            {
                TotalSteps = 3, Schedule = AlternationSchedules.CompetenceOnly(), GradientAccumulationSteps = micro, MaxGradientNorm = 0,
            };
            using var opt = new AlternatingOptimizer(student, new TestCrossEntropy(), null, options);
            opt.Train(sup.Batches(batch, shuffle: false), null);
            return Weights(student);
        }
        var one = Run(1, 32);
        var four = Run(4, 8);
        for (int i = 0; i < one.Length; i++) TorchAssert.Close(one[i], four[i], 1e-5, what: $"w[{i}]");
    }

    [Fact]
    public void Gradient_clipping_bounds_the_update_and_reports_the_unclipped_norm()
    {
        var (sup, _) = Data(7);
        using var student = new LinearTestStudent(F, C, seed: 7);
        var options = new AlternatingOptimizerOptions { TotalSteps = 1, Schedule = AlternationSchedules.CompetenceOnly(), MaxGradientNorm = 1e-3 };
        using var opt = new AlternatingOptimizer(student, new TestCrossEntropy(), null, options);
        var r = opt.Step(sup.Batches(32), null);
        Assert.True(r.GradientNorm > 1e-3);
        double clipped = Math.Sqrt(student.Parameters().Sum(p => p.grad!.pow(2).sum().item<float>()));
        Assert.InRange(clipped, 0.99e-3, 1.0e-3);
    }

    [Fact]
    public void A_step_leaves_no_live_tensors_behind()
    {
        var (sup, pref) = Data(8);
        using var student = new LinearTestStudent(F, C, seed: 8);
        using var reference = FrozenReferencePolicy.CopyOf(student);
        var options = new AlternatingOptimizerOptions { TotalSteps = 40, Schedule = AlternationSchedules.FixedRatio(1, 1) };
        using var opt = new AlternatingOptimizer(student, new TestCrossEntropy(), new TestDpo(), options, reference);
        var s = sup.Batches(16);
        var p = pref.Batches(16);
        opt.Step(s, p);
        opt.Step(s, p); // AdamW state and gradients now exist
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 20; i++) opt.Step(s, p);
        Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void Joint_schedule_minimises_the_weighted_sum()
    {
        var (sup, pref) = Data(9);
        using var student = new LinearTestStudent(F, C, seed: 9);
        using var reference = FrozenReferencePolicy.CopyOf(student);
        var options = new AlternatingOptimizerOptions { TotalSteps = 1, Schedule = AlternationSchedules.Joint(2.0, 0.5) };
        using var opt = new AlternatingOptimizer(student, new TestCrossEntropy(), new TestDpo(), options, reference);
        var r = opt.Step(sup.Batches(16), pref.Batches(16));
        Assert.Equal(TrainingPhase.Joint, r.Phase);
        Assert.Equal(2.0 * r.CompetenceLoss!.Value + 0.5 * r.ConformityLoss!.Value, r.Loss, 6);
    }

    [Theory]
    [InlineData(nameof(AlternatingOptimizerOptions.TotalSteps))]
    [InlineData(nameof(AlternatingOptimizerOptions.LearningRate))]
    [InlineData(nameof(AlternatingOptimizerOptions.Beta1))]
    [InlineData(nameof(AlternatingOptimizerOptions.Beta2))]
    [InlineData(nameof(AlternatingOptimizerOptions.Epsilon))]
    [InlineData(nameof(AlternatingOptimizerOptions.WeightDecay))]
    [InlineData(nameof(AlternatingOptimizerOptions.MaxGradientNorm))]
    [InlineData(nameof(AlternatingOptimizerOptions.WarmupSteps))]
    [InlineData(nameof(AlternatingOptimizerOptions.MinLearningRateRatio))]
    [InlineData(nameof(AlternatingOptimizerOptions.GradientAccumulationSteps))]
    [InlineData(nameof(AlternatingOptimizerOptions.LogEvery))]
    public void Invalid_options_are_rejected_at_construction_naming_the_option(string option)
    {
        var o = new AlternatingOptimizerOptions { TotalSteps = 10 };
        o = option switch
        {
            nameof(o.TotalSteps) => o with { TotalSteps = 0 },
            nameof(o.LearningRate) => o with { LearningRate = double.NaN },
            nameof(o.Beta1) => o with { Beta1 = 1.0 },
            nameof(o.Beta2) => o with { Beta2 = -0.1 },
            nameof(o.Epsilon) => o with { Epsilon = 0 },
            nameof(o.WeightDecay) => o with { WeightDecay = -1 },
            nameof(o.MaxGradientNorm) => o with { MaxGradientNorm = double.PositiveInfinity },
            nameof(o.WarmupSteps) => o with { WarmupSteps = 11 },
            nameof(o.MinLearningRateRatio) => o with { MinLearningRateRatio = 1.5 },
            nameof(o.GradientAccumulationSteps) => o with { GradientAccumulationSteps = 0 },
            _ => o with { LogEvery = -1 },
        };
        using var student = new LinearTestStudent(F, C, seed: 1);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new AlternatingOptimizer(student, new TestCrossEntropy(), null, o));
        Assert.Equal(option, ex.ParamName);
        Assert.Contains(option, ex.Message);
    }

    [Fact]
    public void Missing_sources_objectives_and_references_give_clear_errors()
    {
        var (sup, pref) = Data(10);
        using var student = new LinearTestStudent(F, C, seed: 10);
        var options = new AlternatingOptimizerOptions { TotalSteps = 4, Schedule = AlternationSchedules.FixedRatio(1, 1) };
        using (var opt = new AlternatingOptimizer(student, new TestCrossEntropy(), null, options))
        {
            opt.Step(sup.Batches(8), null);
            Assert.Contains("no conformity objective", Assert.Throws<InvalidOperationException>(() => opt.Step(sup.Batches(8), pref.Batches(8))).Message);
        }
        using (var opt = new AlternatingOptimizer(student, new TestCrossEntropy(), new TestDpo(), options))
        {
            Assert.Contains("no competence batch source", Assert.Throws<InvalidOperationException>(() => opt.Step(null, pref.Batches(8))).Message);
            opt.Step(sup.Batches(8), null);
            Assert.Contains("needs reference log-probs", Assert.Throws<InvalidOperationException>(() => opt.Step(null, pref.Batches(8))).Message);
        }
    }

    [Fact]
    public void Mismatched_batch_shapes_give_clear_errors()
    {
        using var scope = NewDisposeScope();
        var x = randn(8, F);
        var ex = Assert.Throws<ArgumentException>(() => new ResponseBatch(x, zeros(new long[] { 7, 1 }, dtype: ScalarType.Int64), ones(7, 1)));
        Assert.Equal("inputs", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => new ResponseBatch(x, zeros(new long[] { 8, 1 }, dtype: ScalarType.Int64), ones(8, 2)));
        Assert.Equal("mask", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => new ResponseBatch(x, zeros(new long[] { 8, 1 }), ones(8, 1)));
        Assert.Equal("targets", ex.ParamName);
        var a = ResponseBatch.ForClassification(x, zeros(8, dtype: ScalarType.Int64));
        var b = ResponseBatch.ForClassification(x.narrow(0, 0, 6), zeros(6, dtype: ScalarType.Int64));
        ex = Assert.Throws<ArgumentException>(() => new PreferenceBatch(a, b).Validate());
        Assert.Equal("Rejected", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => new SupervisedBatch(a, ones(8, 1, 3, 2)).Validate());
        Assert.Equal("SoftTargets", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => new PreferenceBatch(a, a, zeros(8), zeros(5)).Validate());
        Assert.Equal("ReferenceRejected", ex.ParamName);
    }

    [Fact]
    public void Cancellation_stops_before_the_update()
    {
        var (sup, _) = Data(11);
        using var student = new LinearTestStudent(F, C, seed: 11);
        using var opt = new AlternatingOptimizer(student, new TestCrossEntropy(), null,
            new AlternatingOptimizerOptions { TotalSteps = 5, Schedule = AlternationSchedules.CompetenceOnly() });
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.Throws<OperationCanceledException>(() => opt.Train(sup.Batches(8), null, null, cts.Token));
        Assert.Equal(0, opt.StepsDone);
    }

    [Fact]
    public void Trust_region_reference_syncs_towards_the_policy()
    {
        using var student = new LinearTestStudent(F, C, seed: 12);
        using var synced = new SyncedReferencePolicy(student, alpha: 0.25, syncEvery: 2);
        using (no_grad()) foreach (var p in student.Parameters()) p.add_(1.0);
        var r0 = Weights(synced.Reference);
        var theta = Weights(student);
        synced.AfterUpdate(student, 1); // not a sync step
        Assert.Equal(r0, Weights(synced.Reference));
        synced.AfterUpdate(student, 2);
        var r1 = Weights(synced.Reference);
        for (int i = 0; i < r0.Length; i++) TorchAssert.Close(0.75 * r0[i] + 0.25 * theta[i], r1[i], 1e-6);
        Assert.Equal(1, synced.Syncs);
        Assert.False(synced.IsStatic);
    }

    [Fact]
    public void Loading_a_checkpoint_keeps_the_student_trainable_by_an_existing_optimizer()
    {
        using var scope = NewDisposeScope();
        var (sup, _) = Data(21);
        using var student = new Superalign.Students.MlpClassifier(new Superalign.Students.MlpClassifierOptions(F, C, HiddenWidth: 8, Seed: 4), CPU);
        using var optimizer = new AlternatingOptimizer(student, new TestCrossEntropy(), null,
            new AlternatingOptimizerOptions { TotalSteps = 20, LearningRate = 1e-2, Schedule = AlternationSchedules.CompetenceOnly() });
        string path = Path.Combine(Path.GetTempPath(), $"superalign-{Guid.NewGuid():N}.bin");
        try
        {
            student.Save(path);
            var saved = Weights(student);
            var source = sup.Batches(32, seed: 1);
            for (int i = 0; i < 5; i++) optimizer.Step(source, null);
            Assert.NotEqual(saved, Weights(student));

            student.Load(path);
            Assert.Equal(saved, Weights(student));
            optimizer.Step(source, null);
            Assert.NotEqual(saved, Weights(student)); // the optimizer still updates the loaded weights
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Several_optimizers_of_one_student_all_train_it()
    {
        using var scope = NewDisposeScope();
        var (sup, raw) = Data(22);
        using var student = new LinearTestStudent(F, C, seed: 5);
        var pref = raw.WithReferenceLogProbs(student);
        var options = new AlternatingOptimizerOptions { TotalSteps = 40, LearningRate = 5e-2 };
        using var competence = new AlternatingOptimizer(student, new TestCrossEntropy(), null, options with { Schedule = AlternationSchedules.CompetenceOnly() });
        using var conformity = new AlternatingOptimizer(student, null, new TestDpo(), options with { Schedule = AlternationSchedules.ConformityOnly() });
        double before = CompetenceLoss(student, sup);
        competence.Train(sup.Batches(32, seed: 1), null);
        double after = CompetenceLoss(student, sup);
        Assert.True(after < before - 0.05, $"the first optimizer trains the student: {before} -> {after}");
        double prefBefore = ConformityLoss(student, pref);
        conformity.Train(null, pref.Batches(32, seed: 2));
        double prefAfter = ConformityLoss(student, pref);
        Assert.True(prefAfter < prefBefore - 0.05, $"the second optimizer trains the same student: {prefBefore} -> {prefAfter}");
    }
}
