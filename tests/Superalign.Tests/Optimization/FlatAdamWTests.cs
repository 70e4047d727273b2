using Superalign.Optimization;
using Superalign.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Optimization;

public class FlatAdamWTests
{
    private static double[] Flat(IEnumerable<Tensor> ts) =>
        ts.SelectMany(t => t.detach().to_type(ScalarType.Float64).cpu().data<double>().ToArray()).ToArray();

    private static nn.Module<Tensor, Tensor> Net(long seed)
    {
        manual_seed(seed);
        return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3), nn.LayerNorm(3));
    }

    [Fact]
    public void Matches_torch_optim_AdamW_step_for_step()
    {
        var settings = new AdamWSettings(0.9, 0.99, 1e-8, 0.05);
        using var a = Net(1);
        using var b = Net(1);
        var pa = a.parameters().ToList();
        var pb = b.parameters().ToList();
        using var flat = new FlatAdamW(pa, settings);
        using var reference = optim.AdamW(pb, 0.01, 0.9, 0.99, 1e-8, 0.05);
        var x = randn(16, 5);
        var y = randn(16, 3);
        for (int step = 0; step < 15; step++)
        {
            double lr = 0.01 * (1 + step % 3);
            flat.ZeroGrad();
            nn.functional.mse_loss(a.call(x), y).backward();
            flat.Step(lr);

            reference.zero_grad();
            nn.functional.mse_loss(b.call(x), y).backward();
            foreach (var g in reference.ParamGroups) g.LearningRate = lr;
            using (no_grad()) reference.step();
        }
        var wa = Flat(pa);
        var wb = Flat(pb);
        for (int i = 0; i < wa.Length; i++) TorchAssert.Close(wb[i], wa[i], 1e-6, 1e-5, $"w[{i}]");
    }

    [Fact]
    public void Parameters_keep_their_identity_and_gradients_land_in_the_buffer()
    {
        using var net = Net(2);
        var ps = net.parameters().ToList();
        var before = Flat(ps);
        using var flat = new FlatAdamW(ps, new AdamWSettings(0.9, 0.999, 1e-8, 0));
        Assert.Equal(before, Flat(net.parameters()));
        flat.ZeroGrad();
        nn.functional.mse_loss(net.call(randn(4, 5)), zeros(4, 3)).backward();
        double manual = Math.Sqrt(ps.Sum(p => p.grad!.pow(2).sum().ToDouble()));
        TorchAssert.Close(manual, flat.ClipGradients(0), 1e-6, 1e-6, "gradient norm");
        double clippedTo = 0.5 * manual;
        flat.ClipGradients(clippedTo);
        TorchAssert.Close(clippedTo, Math.Sqrt(ps.Sum(p => p.grad!.pow(2).sum().ToDouble())), 1e-5, 1e-5, "clipped norm");
        flat.Step(0.1);
        Assert.NotEqual(before, Flat(net.parameters()));
    }

    [Fact]
    public void Optimizer_gives_the_same_weights_with_and_without_the_flat_buffer()
    {
        double[] Run(bool flat)
        {
            var (x, y) = ToyData.Classification(64, 6, 3, seed: 3);
            using var student = new LinearTestStudent(6, 3, seed: 3);
            var options = new AlternatingOptimizerOptions
            {
                TotalSteps = 20, Schedule = AlternationSchedules.CompetenceOnly(), FlatParameterBuffer = flat, WeightDecay = 0.01, MaxGradientNorm = 0.5,
            };
            using var opt = new AlternatingOptimizer(student, new TestCrossEntropy(), null, options);
            opt.Train(Superalign.Data.SupervisedDataset.ForClassification(x, y).Batches(16, seed: 1), null);
            return Flat(student.Parameters());
        }
        var a = Run(true);
        var b = Run(false);
        for (int i = 0; i < a.Length; i++) TorchAssert.Close(b[i], a[i], 1e-5, 1e-4, $"w[{i}]");
    }

    [Fact]
    public void Mixed_dtypes_cannot_be_flattened()
    {
        using var l1 = nn.Linear(2, 2);
        using var l2 = nn.Linear(2, 2);
        l2.to(ScalarType.Float64);
        var ps = l1.parameters().Concat(l2.parameters()).ToList();
        Assert.False(FlatAdamW.CanFlatten(ps, out var why));
        Assert.Contains("dtype", why);
        Assert.Throws<ArgumentException>(() => new FlatAdamW(ps, new AdamWSettings(0.9, 0.999, 1e-8, 0)));
    }

    [Fact]
    public void Two_optimizers_over_one_parameter_list_both_update_the_module()
    {
        // Each keeps its own moments; both must move the module's own weights (one per phase, as in benchmarks).
        var settings = new AdamWSettings(0.9, 0.99, 1e-8, 0);
        using var a = Net(2);
        using var b = Net(2);
        var pa = a.parameters().ToList();
        var pb = b.parameters().ToList();
        using var first = new FlatAdamW(pa, settings);
        using var second = new FlatAdamW(pa, settings);
        using var refFirst = optim.AdamW(pb, 0.01, 0.9, 0.99, 1e-8, 0);
        using var refSecond = optim.AdamW(pb, 0.01, 0.9, 0.99, 1e-8, 0);
        var x = randn(16, 5);
        var y = randn(16, 3);
        for (int step = 0; step < 6; step++)
        {
            var (mine, theirs) = step % 3 == 2 ? (second, refSecond) : (first, refFirst);
            mine.ZeroGrad();
            nn.functional.mse_loss(a.call(x), y).backward();
            mine.Step(0.01);
            theirs.zero_grad();
            nn.functional.mse_loss(b.call(x), y).backward();
            theirs.step();
        }
        var expected = Flat(pb);
        var actual = Flat(pa);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) < 1e-5, $"parameter {i}: expected {expected[i]}, got {actual[i]}");
        Assert.True(Flat(pa).Zip(Flat(Net(2).parameters())).Any(t => Math.Abs(t.First - t.Second) > 1e-3), "the weights moved");
    }

    [Fact]
    public void A_different_list_of_already_flattened_parameters_is_refused()
    {
        using var a = Net(3);
        var all = a.parameters().ToList();
        using var first = new FlatAdamW(all, new AdamWSettings(0.9, 0.99, 1e-8, 0));
        var error = Assert.Throws<InvalidOperationException>(() => new FlatAdamW(all.Skip(1).ToList(), new AdamWSettings(0.9, 0.99, 1e-8, 0)));
        Assert.Contains("FlatParameterBuffer = false", error.Message);
    }
}
