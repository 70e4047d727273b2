using Superalign.Data;
using Superalign.Optimization;
using Superalign.Students;
using Superalign.Tests.Infrastructure;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Optimization;

/// <summary>
/// The update itself is guarded: an AdamW update whose result is not finite is not applied; ε is checked against the
/// parameters' dtype; a failed step leaves buffers as they were; optimizers outlive their caller's dispose scopes.
/// </summary>
public sealed class UpdateGuardTests
{
    private static List<byte[]> Bytes(IEnumerable<Tensor> tensors) => tensors.Select(t => t.detach().contiguous().bytes.ToArray()).ToList();

    private static IBatchSource<SupervisedBatch> Data(int features = 4, int classes = 3, long seed = 1)
    {
        var (x, y) = ToyData.Classification(32, features, classes, seed);
        return SupervisedDataset.ForClassification(x, y).Batches(8, seed: 2);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void An_update_that_overflows_is_refused_and_changes_nothing(bool flat)
    {
        using var student = new LinearTestStudent(4, 3, seed: 1);
        using (no_grad()) foreach (var p in student.Parameters()) p.fill_(10);
        var data = Data();
        // Each scalar of the update fits float32 (lr·wd = lr/(1−β₁) = 1e38), but weights of 10 decayed by 1 − 1e38
        // overflow to ±inf: the loss and gradients are finite, only the update's result is not.
        var options = new AlternatingOptimizerOptions
        {
            TotalSteps = 10, LearningRate = 1e38, WeightDecay = 1, Beta1 = 0, Schedule = AlternationSchedules.CompetenceOnly(), FlatParameterBuffer = flat,
        };
        using var optimizer = new AlternatingOptimizer(student, new TestCrossEntropy(), null, options);
        var before = Bytes(student.Parameters());
        var e = Assert.Throws<NonFiniteLossException>(() => optimizer.Step(data, null));
        Assert.Contains("after the AdamW update", e.What);
        Assert.Equal(before, Bytes(student.Parameters()));
        Assert.Equal(0, optimizer.StepsDone);
        Assert.All(student.Parameters(), p => Assert.True(p.isfinite().all().item<bool>()));

        // The moments were not advanced either: the same student under a sane optimizer state continues as a fresh one would.
        string dir = Checkpoints.CheckpointTestSupport.TempDir();
        optimizer.SaveCheckpoint(Path.Combine(dir, "after-refusal.ckpt"), data, null);
        using var fresh = new LinearTestStudent(4, 3, seed: 1);
        using (no_grad()) foreach (var p in fresh.Parameters()) p.fill_(10);
        using var freshOptimizer = new AlternatingOptimizer(fresh, new TestCrossEntropy(), null, options);
        var freshData = Data();
        freshData.Next();
        freshOptimizer.SaveCheckpoint(Path.Combine(dir, "fresh.ckpt"), freshData, null);
        Checkpoints.CheckpointTestSupport.AssertSameState(Path.Combine(dir, "fresh.ckpt"), Path.Combine(dir, "after-refusal.ckpt"));
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.Float64)]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void Finite_all_finds_every_NaN_and_infinity_wherever_it_is(ScalarType dtype)
    {
        var rng = new Random(3);
        foreach (double bad in new[] { double.NaN, double.PositiveInfinity, double.NegativeInfinity })
        {
            for (int trial = 0; trial < 20; trial++)
            {
                using var scope = NewDisposeScope();
                var t = randn(257).to_type(dtype);
                var other = randn(3, 5).to_type(dtype);
                Assert.True(Finite.All(t, other));
                int at = rng.Next(257);
                t[at] = tensor(bad).to_type(dtype);
                Assert.False(Finite.All(other, t), $"{bad} at {at} of a {dtype} tensor was not seen.");
            }
        }
        // Large finite float64 values are finite (no narrowing on the way).
        Assert.True(Finite.All(tensor(new[] { 1e300, -1e300 })));
        Assert.True(Finite.All(zeros(0)));
    }

    [Fact]
    public void A_learning_rate_beyond_the_parameter_dtype_is_refused_with_the_option_named()
    {
        using var student = new LinearTestStudent(4, 3, seed: 1);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            new AlternatingOptimizer(student, new TestCrossEntropy(), null, new AlternatingOptimizerOptions { LearningRate = 1e300 }));
        Assert.Equal(nameof(AlternatingOptimizerOptions.LearningRate), e.ParamName);
        var decay = Assert.Throws<ArgumentOutOfRangeException>(() =>
            new AlternatingOptimizer(student, new TestCrossEntropy(), null, new AlternatingOptimizerOptions { LearningRate = 1e20, WeightDecay = 1e20 }));
        Assert.Contains("WeightDecay", decay.Message);
    }

    [Fact]
    public void The_bound_is_sound_whenever_it_lets_an_update_through_unchecked()
    {
        // Random states over the whole float32 range; whenever UpdateBound says "safe", the update applied in place
        // (torch.optim.AdamW's arithmetic) must leave every parameter and second moment finite.
        var rng = new Random(11);
        int safe = 0, unsafeCases = 0;
        for (int trial = 0; trial < 3000; trial++)
        {
            using var scope = NewDisposeScope();
            double Scale() => Math.Pow(10, rng.Next(-6, 39));
            var g = new Generator((ulong)trial);
            var p = randn([64], generator: g).mul_(Scale()).nan_to_num_();
            var m = randn([64], generator: g).mul_(Scale()).nan_to_num_();
            var v = randn([64], generator: g).abs_().mul_(Scale()).nan_to_num_();
            var grad = randn([64], generator: g).mul_(Scale()).nan_to_num_();
            var settings = new AdamWSettings(rng.NextDouble() * 0.99, 0.9 + rng.NextDouble() * 0.0999, Math.Pow(10, -rng.Next(1, 38)), rng.Next(3) == 0 ? Math.Pow(10, rng.Next(-4, 3)) : 0);
            double lr = Math.Pow(10, rng.Next(-6, 4));
            long t = rng.Next(1, 50);
            double bias1 = 1 - Math.Pow(settings.Beta1, t);
            var bound = new UpdateBound(settings, ScalarType.Float32);
            bound.Forget();
            if (!bound.Safe(lr, bias1, () => Finite.MaxAbs(p), () => Finite.MaxAbs(grad), () => (Finite.MaxAbs(m), Finite.MaxAbs(v))))
            {
                unsafeCases++;
                continue;
            }
            safe++;
            var (b1, b2, eps, wd) = (settings.Beta1, settings.Beta2, settings.Epsilon, settings.WeightDecay);
            if (wd != 0) p.mul_(1 - lr * wd);
            m.mul_(b1).add_(grad, alpha: 1 - b1);
            v.mul_(b2).addcmul_(grad, grad, value: 1 - b2);
            var denom = v.sqrt().div_(Math.Sqrt(1 - Math.Pow(b2, t))).add_(eps);
            p.addcdiv_(m, denom, value: -lr / bias1);
            Assert.True(p.isfinite().all().item<bool>() && v.isfinite().all().item<bool>(), $"trial {trial}: the bound let through an update that overflowed.");
        }
        // Both outcomes occur, so the property was exercised on both sides.
        Assert.True(safe > 300 && unsafeCases > 300, $"safe {safe}, unsafe {unsafeCases}");
    }

    [Fact]
    public void Ordinary_training_never_needs_the_copies_and_an_overflow_does()
    {
        using var student = new LinearTestStudent(4, 3, seed: 1);
        var parameters = student.Parameters();
        using var flat = new FlatAdamW(parameters, new AdamWSettings(0.9, 0.999, 1e-8, 0.01));
        var data = Data();
        for (int i = 0; i < 50; i++)
        {
            using var scope = NewDisposeScope();
            flat.ZeroGrad();
            var batch = data.Next().Responses;
            nn.functional.cross_entropy(student.Logits(batch).squeeze(1), batch.Targets.squeeze(1)).backward();
            flat.ClipGradients(1.0);
            Assert.True(flat.Step(1e-2));
        }
        Assert.Equal(0, flat.CheckedUpdates);
        using (no_grad()) foreach (var p in parameters) p.fill_(1e38f); // above a quarter of float32's range: the bound cannot vouch for it
        flat.ClipGradients(0);
        Assert.True(flat.Step(1e-2));
        Assert.Equal(1, flat.CheckedUpdates);
    }

    [Fact]
    public void Epsilon_that_is_zero_in_the_parameter_dtype_is_refused()
    {
        using var student = new LinearTestStudent(4, 3, seed: 1);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            new AlternatingOptimizer(student, new TestCrossEntropy(), null, new AlternatingOptimizerOptions { Epsilon = 1e-50 }));
        Assert.Equal(nameof(AlternatingOptimizerOptions.Epsilon), e.ParamName);
        Assert.Contains("Float32", e.Message);

        // The same ε is a normal float64: a float64 student accepts it and trains to finite weights.
        using var wide = new LinearTestStudent(4, 3, seed: 1);
        wide.Module.to(ScalarType.Float64);
        using var optimizer = new AlternatingOptimizer(wide, new TestCrossEntropy(), null,
            new AlternatingOptimizerOptions { Epsilon = 1e-50, TotalSteps = 3, Schedule = AlternationSchedules.CompetenceOnly() });
        var (x, y) = ToyData.Classification(32, 4, 3, 1);
        optimizer.Train(SupervisedDataset.ForClassification(x.to_type(ScalarType.Float64), y).Batches(8), null);
        Assert.All(wide.Parameters(), p => Assert.True(p.isfinite().all().item<bool>()));
    }

    /// <summary>A student with BatchNorm: its running statistics change on every training forward pass.</summary>
    private sealed class BatchNormStudent : TorchStudent
    {
        public BatchNormStudent() : base("bn", nn.Sequential(nn.BatchNorm1d(4), nn.Linear(4, 3)), CPU)
        {
        }

        public override Tensor Logits(ResponseBatch batch) => ((Sequential)Module).call(batch.Inputs).unsqueeze(1);

        protected override TorchStudent CreateSibling() => new BatchNormStudent();
    }

    [Fact]
    public void A_failed_step_leaves_the_buffers_as_they_were()
    {
        using var student = new BatchNormStudent();
        var poisoned = new PoisonedObjective(new TestCrossEntropy());
        using var optimizer = new AlternatingOptimizer(student, poisoned, null,
            new AlternatingOptimizerOptions { TotalSteps = 10, Schedule = AlternationSchedules.CompetenceOnly() });
        var data = Data();
        optimizer.Step(data, null);
        var buffers = Bytes(student.Module.buffers());
        var parameters = Bytes(student.Parameters());
        poisoned.Poison = true;
        Assert.Throws<NonFiniteLossException>(() => optimizer.Step(data, null));
        Assert.Equal(buffers, Bytes(student.Module.buffers()));
        Assert.Equal(parameters, Bytes(student.Parameters()));

        // A successful step does move them (the check above could not pass by accident).
        poisoned.Poison = false;
        optimizer.Step(data, null);
        Assert.NotEqual(buffers, Bytes(student.Module.buffers()));
    }

    [Fact]
    public void An_optimizer_built_inside_a_dispose_scope_outlives_it()
    {
        using var student = new LinearTestStudent(4, 3, seed: 1);
        var data = Data();
        var options = new AlternatingOptimizerOptions { TotalSteps = 10, Schedule = AlternationSchedules.CompetenceOnly() };
        AlternatingOptimizer first;
        using (NewDisposeScope())
        {
            first = new AlternatingOptimizer(student, new TestCrossEntropy(), null, options);
            first.Step(data, null);
        }
        // Both the first optimizer and a second one over the same student (sharing its flat buffers) keep working.
        first.Step(data, null);
        using var second = new AlternatingOptimizer(student, new TestCrossEntropy(), null, options);
        second.Step(data, null);
        first.Dispose();
        Assert.All(student.Parameters(), p => Assert.True(p.isfinite().all().item<bool>()));
    }
}
