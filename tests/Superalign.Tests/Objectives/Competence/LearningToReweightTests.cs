using FsCheck;
using FsCheck.Fluent;
using Superalign.Objectives.Competence;
using Superalign.Students;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Superalign.Tests.Objectives.Competence;

/// <summary>
/// Learning to reweight (Ren et al. 2018): the weights against a hand-computed closed form (softmax regression), the
/// meta-gradient against finite differences of the virtual step, behaviour under label noise, and FsCheck properties.
/// </summary>
public sealed class LearningToReweightTests(ITestOutputHelper output)
{
    // Softmax regression z = W·x + b with W [C, D] (row-major), b [C]; all arithmetic in float64.
    private const int D = 3, C = 3;

    private static readonly double[] W0 = [0.3, -0.2, 0.5, -0.4, 0.1, 0.2, 0.05, 0.3, -0.6];
    private static readonly double[] B0 = [0.1, -0.2, 0.05];

    private static readonly double[][] Xs =
    [
        [1.0, 0.5, -0.3], [-0.7, 1.2, 0.4], [0.2, -0.9, 1.1], [1.5, 0.3, 0.8], [-1.1, -0.4, 0.6],
    ];

    private static readonly double[][] Ys =
    [
        [0.8, 0.1, 0.1], [0.1, 0.7, 0.2], [0.0, 0.0, 1.0], [0.2, 0.2, 0.6], [0.5, 0.5, 0.0],
    ];

    private static readonly double[][] TrustedX = [[0.9, 0.2, -0.1], [-0.5, 1.0, 0.3], [0.1, -0.6, 1.4], [1.2, -0.2, 0.1]];
    private static readonly int[] TrustedY = [0, 1, 2, 0];

    private static double[] Softmax(double[] z)
    {
        double max = z.Max();
        var e = z.Select(v => Math.Exp(v - max)).ToArray();
        double s = e.Sum();
        return e.Select(v => v / s).ToArray();
    }

    private static double[] Probs(double[] w, double[] b, double[] x) =>
        Softmax(Enumerable.Range(0, C).Select(c => b[c] + Enumerable.Range(0, D).Sum(d => w[c * D + d] * x[d])).ToArray());

    /// <summary>Analytic gradient of −Σ_c y_c log p_c: ∂/∂W = (p − y)xᵀ, ∂/∂b = p − y, flattened as [W, b].</summary>
    private static double[] Gradient(double[] w, double[] b, double[] x, double[] y)
    {
        var p = Probs(w, b, x);
        var g = new double[C * D + C];
        for (int c = 0; c < C; c++)
        {
            for (int d = 0; d < D; d++) g[c * D + d] = (p[c] - y[c]) * x[d];
            g[C * D + c] = p[c] - y[c];
        }
        return g;
    }

    private static double[] OneHot(int k) => Enumerable.Range(0, C).Select(c => c == k ? 1.0 : 0.0).ToArray();

    private static double[] TrustedGradient(double[] w, double[] b)
    {
        var sum = new double[C * D + C];
        for (int j = 0; j < TrustedX.Length; j++)
        {
            var g = Gradient(w, b, TrustedX[j], OneHot(TrustedY[j]));
            for (int k = 0; k < sum.Length; k++) sum[k] += g[k] / TrustedX.Length;
        }
        return sum;
    }

    /// <summary>The implementation's reweighting for softmax regression at (w, b), in float64.</summary>
    private static (double[] Meta, double[] Weights) Implementation(double[] w, double[] b, double alpha)
    {
        using var scope = NewDisposeScope();
        var wt = tensor(w, ScalarType.Float64).reshape(C, D).requires_grad_(true);
        var bt = tensor(b, ScalarType.Float64).requires_grad_(true);
        var x = tensor(Xs.SelectMany(r => r).ToArray(), ScalarType.Float64).reshape(Xs.Length, D);
        var y = tensor(Ys.SelectMany(r => r).ToArray(), ScalarType.Float64).reshape(Ys.Length, C);
        var losses = -(y * (x.matmul(wt.t()) + bt).log_softmax(1)).sum(1);
        var tx = tensor(TrustedX.SelectMany(r => r).ToArray(), ScalarType.Float64).reshape(TrustedX.Length, D);
        var trusted = nn.functional.cross_entropy(tx.matmul(wt.t()) + bt, tensor(TrustedY.Select(v => (long)v).ToArray()));
        var r = LearningToReweight.Compute([wt, bt], losses, trusted, alpha);
        return (r.MetaGradients.data<double>().ToArray(), r.Weights.data<double>().ToArray());
    }

    [Fact]
    public void Weights_match_the_closed_form_alignment_of_analytic_per_example_gradients()
    {
        const double alpha = 0.7;
        var v = TrustedGradient(W0, B0);
        var expectedMeta = Xs.Select((x, i) => -alpha * Gradient(W0, B0, x, Ys[i]).Zip(v, (a, c) => a * c).Sum()).ToArray();
        var positive = expectedMeta.Select(g => Math.Max(-g, 0)).ToArray();
        var expectedWeights = positive.Select(p => p / positive.Sum()).ToArray();

        var (meta, weights) = Implementation(W0, B0, alpha);

        Assert.Contains(expectedMeta, g => g < 0);
        Assert.Contains(expectedMeta, g => g > 0); // the case exercises the clipping at zero
        for (int i = 0; i < Xs.Length; i++)
        {
            Assert.Equal(expectedMeta[i], meta[i], 1e-9);
            Assert.Equal(expectedWeights[i], weights[i], 1e-9);
        }
    }

    [Fact]
    public void Weights_of_a_linear_least_squares_model_match_numbers_computed_by_hand()
    {
        // f(x) = θ·x with θ = (0.5, 0), ℓᵢ = ½(θ·xᵢ − yᵢ)², so ∇ℓᵢ = (θ·xᵢ − yᵢ)·xᵢ:
        //   x₁ = (1, 0),   y₁ = 2  → residual −1.5  → ∇ℓ₁ = (−1.5, 0)
        //   x₂ = (0, 1),   y₂ = 1  → residual −1    → ∇ℓ₂ = (0, −1)
        //   x₃ = (1, 1),   y₃ = −1 → residual 1.5   → ∇ℓ₃ = (1.5, 1.5)
        //   x₄ = (0.5, 3), y₄ = 2  → residual −1.75 → ∇ℓ₄ = (−0.875, −5.25)
        // Trusted: x̃ = (1, 0), ỹ = 1 → residual −0.5 → ∇L = (−0.5, 0).
        // gᵢ = −α·∇L·∇ℓᵢ with α = 0.5: −0.375, 0, +0.375, −0.21875; max(−g, 0) = 0.375, 0, 0, 0.21875 (sum 19/32),
        // so w = (12/19, 0, 0, 7/19): example 3 pulls θ away from the trusted example and gets no weight.
        using var scope = NewDisposeScope();
        var theta = tensor(new[] { 0.5, 0.0 }, ScalarType.Float64).requires_grad_(true);
        var x = tensor(new[] { 1.0, 0, 0, 1, 1, 1, 0.5, 3 }, ScalarType.Float64).reshape(4, 2);
        var y = tensor(new[] { 2.0, 1, -1, 2 }, ScalarType.Float64);
        var losses = 0.5 * (x.matmul(theta) - y).pow(2);
        var trusted = 0.5 * (tensor(new[] { 1.0, 0 }, ScalarType.Float64).dot(theta) - 1).pow(2);

        var r = LearningToReweight.Compute([theta], losses, trusted, virtualStepSize: 0.5);

        var meta = r.MetaGradients.data<double>().ToArray();
        var weights = r.Weights.data<double>().ToArray();
        Assert.Equal(new[] { -0.375, 0, 0.375, -0.21875 }, meta.Select(v => Math.Round(v, 12)));
        Assert.Equal(12.0 / 19, weights[0], 12);
        Assert.Equal(0, weights[1], 12);
        Assert.Equal(0, weights[2], 12);
        Assert.Equal(7.0 / 19, weights[3], 12);
    }

    [Fact]
    public void Meta_gradient_matches_finite_differences_of_the_trusted_loss_after_the_virtual_step()
    {
        // A tanh MLP (second derivatives that a linear model does not have), virtual step by autograd at a given ε,
        // trusted loss after it; central differences in each εᵢ against the double-backward meta-gradient.
        const double alpha = 0.5, h = 1e-5;
        var gen = new Generator(7);
        using var w1 = randn(4, D, ScalarType.Float64, generator: gen);
        using var b1 = randn(4, ScalarType.Float64, generator: gen);
        using var w2 = randn(C, 4, ScalarType.Float64, generator: gen);
        using var x = tensor(Xs.SelectMany(r => r).ToArray(), ScalarType.Float64).reshape(Xs.Length, D);
        using var y = tensor(Ys.SelectMany(r => r).ToArray(), ScalarType.Float64).reshape(Ys.Length, C);
        using var tx = tensor(TrustedX.SelectMany(r => r).ToArray(), ScalarType.Float64).reshape(TrustedX.Length, D);
        using var ty = tensor(TrustedY.Select(v => (long)v).ToArray());

        static Tensor Forward(Tensor input, Tensor a, Tensor ab, Tensor c) => tanh(input.matmul(a.t()) + ab).matmul(c.t());
        Tensor Losses(Tensor a, Tensor ab, Tensor c) => -(y * Forward(x, a, ab, c).log_softmax(1)).sum(1);
        Tensor Trusted(Tensor a, Tensor ab, Tensor c) => nn.functional.cross_entropy(Forward(tx, a, ab, c), ty);

        double TrustedAfterStep(double[] eps)
        {
            using var scope = NewDisposeScope();
            var ps = new[] { w1, b1, w2 }.Select(p => p.detach().clone().requires_grad_(true)).ToArray();
            var weighted = (tensor(eps, ScalarType.Float64) * Losses(ps[0], ps[1], ps[2])).sum();
            var g = autograd.grad([weighted], ps);
            using var _ = no_grad();
            return Trusted(ps[0] - alpha * g[0], ps[1] - alpha * g[1], ps[2] - alpha * g[2]).item<double>();
        }

        double[] meta;
        using (NewDisposeScope())
        {
            var ps = new[] { w1, b1, w2 }.Select(p => p.detach().clone().requires_grad_(true)).ToArray();
            meta = LearningToReweight.Compute(ps, Losses(ps[0], ps[1], ps[2]), Trusted(ps[0], ps[1], ps[2]), alpha)
                .MetaGradients.data<double>().ToArray();
        }
        for (int i = 0; i < Xs.Length; i++)
        {
            var plus = new double[Xs.Length];
            var minus = new double[Xs.Length];
            plus[i] = h;
            minus[i] = -h;
            double fd = (TrustedAfterStep(plus) - TrustedAfterStep(minus)) / (2 * h);
            Assert.True(Math.Abs(fd - meta[i]) <= 1e-6 * (1 + Math.Abs(fd)), $"example {i}: finite difference {fd}, meta-gradient {meta[i]}");
        }
    }

    [Fact]
    public void Weights_are_all_zero_when_no_example_helps_the_trusted_set()
    {
        using var g = tensor(new[] { 0.5, 0.0, 2.0 });
        using var w = LearningToReweight.Normalize(g);
        Assert.All(w.data<double>().ToArray(), v => Assert.Equal(0.0, v));
    }

    [Fact]
    public void Errors_name_the_parameter()
    {
        using var p = zeros(2).requires_grad_(true);
        using var losses = p * 2;
        using var trusted = p.sum();
        Assert.Equal("virtualStepSize", Assert.Throws<ArgumentOutOfRangeException>(() => LearningToReweight.Compute([p], losses, trusted, 0)).ParamName);
        Assert.Equal("exampleLosses", Assert.Throws<ArgumentException>(() => LearningToReweight.Compute([p], losses.reshape(1, 2), trusted)).ParamName);
        Assert.Equal("trustedLoss", Assert.Throws<ArgumentException>(() => LearningToReweight.Compute([p], losses, losses)).ParamName);
        using var frozen = zeros(2);
        Assert.Equal("parameters", Assert.Throws<ArgumentException>(() => LearningToReweight.Compute([frozen], losses, trusted)).ParamName);
        using var nan = tensor(new[] { double.NaN });
        Assert.Equal("metaGradients", Assert.Throws<ArgumentException>(() => LearningToReweight.Normalize(nan)).ParamName);
        using var student = new MlpClassifier(new MlpClassifierOptions(2, 2, Depth: 0), CPU);
        using var tx = zeros(3, 5);
        using var ty = zeros(3, ScalarType.Int64);
        Assert.Equal("trustedFeatures", Assert.Throws<ArgumentException>(() => new LearningToReweightObjective(student, tx, ty)).ParamName);
    }

    // ---- behaviour under label noise -------------------------------------------------------------------------

    /// <summary>Two Gaussian classes at x₀ = ±1.5 (σ = 1) in 2-D; labels 0/1 with the class.</summary>
    private static (float[] X, int[] Y) Blobs(Random rng, int n)
    {
        var x = new float[2 * n];
        var y = new int[n];
        for (int i = 0; i < n; i++)
        {
            y[i] = i % 2;
            x[2 * i] = (float)((y[i] == 1 ? 1.5 : -1.5) + Gaussian(rng));
            x[2 * i + 1] = (float)Gaussian(rng);
        }
        return (x, y);
    }

    private static double Gaussian(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    private sealed record NoisyRun(double Accuracy, double FlippedMeanWeight, double CleanMeanWeight);

    /// <summary>
    /// Trains logistic regression for 150 Adam steps on batches of 40 from 400 examples whose labels are 40% flipped
    /// (class-dependent: 60% of class 1 → 0, 20% of class 0 → 1, so the noisy majority is class 0 everywhere), with
    /// <paramref name="objective"/>; returns the clean test accuracy and, for reweighting, mean weights by group.
    /// </summary>
    private static NoisyRun TrainOnNoisyLabels(bool reweight, int seed)
    {
        using var scope = NewDisposeScope();
        var rng = new Random(seed);
        var (x, y) = Blobs(rng, 400);
        var noisy = y.Select(v => v == 1 ? (rng.NextDouble() < 0.6 ? 0 : 1) : (rng.NextDouble() < 0.2 ? 1 : 0)).ToArray();
        var flipped = y.Zip(noisy, (a, b) => a != b).ToArray();
        var (trustedX, trustedY) = Blobs(rng, 20);
        var (testX, testY) = Blobs(rng, 2000);

        var features = tensor(x).reshape(400, 2);
        var soft = nn.functional.one_hot(tensor(noisy.Select(v => (long)v).ToArray()), 2).to_type(ScalarType.Float32);
        using var student = new MlpClassifier(new MlpClassifierOptions(2, 2, Depth: 0, Seed: seed), CPU);
        student.SetTraining(true);
        ICompetenceObjective objective = reweight
            ? new LearningToReweightObjective(student, tensor(trustedX).reshape(20, 2), tensor(trustedY.Select(v => (long)v).ToArray()))
            : new SoftCrossEntropyObjective();
        using var adam = optim.Adam(student.Parameters(), lr: 0.05);
        var order = Enumerable.Range(0, 400).ToArray();
        double flippedWeight = 0, cleanWeight = 0;
        int flippedCount = 0, cleanCount = 0;
        const int batch = 40, steps = 150;
        for (int step = 0; step < steps; step++)
        {
            if (step % (400 / batch) == 0) rng.Shuffle(order);
            using var stepScope = NewDisposeScope();
            var rows = order.Skip(step % (400 / batch) * batch).Take(batch).ToArray();
            var index = tensor(rows.Select(r => (long)r).ToArray());
            var logits = student.ClassLogits(features.index_select(0, index)).unsqueeze(1);
            var targets = tensor(rows.Select(r => (long)noisy[r]).ToArray()).unsqueeze(1);
            var loss = objective.Loss(new CompetenceInput(logits, targets, ones(batch, 1), soft.index_select(0, index), new TrainingProgress(step, steps)));
            adam.zero_grad();
            loss.backward();
            adam.step();
            if (objective is LearningToReweightObjective l2r)
            {
                for (int k = 0; k < batch; k++)
                {
                    if (flipped[rows[k]]) { flippedWeight += l2r.LastWeights![k]; flippedCount++; }
                    else { cleanWeight += l2r.LastWeights![k]; cleanCount++; }
                }
            }
        }
        student.SetTraining(false);
        using var _ = no_grad();
        var predictions = student.ClassLogits(tensor(testX).reshape(2000, 2)).argmax(1).data<long>().ToArray();
        double accuracy = predictions.Zip(testY, (p, t) => p == t ? 1.0 : 0.0).Average();
        Assert.InRange(flipped.Count(f => f) / 400.0, 0.33, 0.47);
        return new NoisyRun(accuracy, flippedCount == 0 ? 0 : flippedWeight / flippedCount, cleanCount == 0 ? 0 : cleanWeight / cleanCount);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void With_40_percent_flipped_labels_reweighting_downweights_flips_and_beats_plain_cross_entropy(int seed)
    {
        var plain = TrainOnNoisyLabels(reweight: false, seed);
        var reweighted = TrainOnNoisyLabels(reweight: true, seed);
        output.WriteLine($"seed {seed}: cross-entropy {plain.Accuracy:P1}, reweighted {reweighted.Accuracy:P1}; mean weight flipped {reweighted.FlippedMeanWeight:F4}, clean {reweighted.CleanMeanWeight:F4}");
        Assert.True(reweighted.FlippedMeanWeight < 0.5 * reweighted.CleanMeanWeight,
            $"flipped mean weight {reweighted.FlippedMeanWeight:F4} vs clean {reweighted.CleanMeanWeight:F4}");
        Assert.True(reweighted.Accuracy > plain.Accuracy + 0.1,
            $"reweighted accuracy {reweighted.Accuracy:P1} vs cross-entropy {plain.Accuracy:P1}");
    }

    // ---- properties --------------------------------------------------------------------------------------

    private static readonly Config Config = Config.QuickThrowOnFailure.WithMaxTest(60);

    private static bool NonNegativeSummingToOneOrZero(double[] w) =>
        w.All(v => v >= 0 && double.IsFinite(v)) && (w.All(v => v == 0) || Math.Abs(w.Sum() - 1) < 1e-9);

    [Fact]
    public void Normalized_weights_are_non_negative_and_sum_to_one_or_are_all_zero()
    {
        var vectors = Gen.Choose(-1000, 1000).ArrayOf().Where(a => a.Length > 0)
            .Select(a => a.Select(v => v / 100.0).ToArray()).ToArbitrary();
        Check.One(Config, Prop.ForAll(vectors, g =>
        {
            using var t = tensor(g);
            using var w = LearningToReweight.Normalize(t);
            var weights = w.data<double>().ToArray();
            // Weight exactly where the meta-gradient is negative.
            return NonNegativeSummingToOneOrZero(weights) && weights.Zip(g, (wi, gi) => (wi > 0) == (gi < 0)).All(b => b);
        }));
    }

    [Fact]
    public void Weights_of_random_softmax_regressions_are_non_negative_and_sum_to_one_or_are_all_zero()
    {
        var specs = (from seed in Gen.Choose(0, 1_000_000)
                     from b in Gen.Choose(1, 8)
                     from c in Gen.Choose(2, 4)
                     from n in Gen.Choose(1, 5)
                     select (seed, b, c, n)).ToArbitrary();
        Check.One(Config, Prop.ForAll(specs, s =>
        {
            using var scope = NewDisposeScope();
            var gen = new Generator((ulong)s.seed);
            var w = randn(s.c, 3, ScalarType.Float64, generator: gen).requires_grad_(true);
            var x = randn(s.b, 3, ScalarType.Float64, generator: gen);
            var y = rand(s.b, s.c, ScalarType.Float64, generator: gen).softmax(1);
            var tx = randn(s.n, 3, ScalarType.Float64, generator: gen);
            var ty = randint(s.c, [s.n], generator: gen);
            var losses = -(y * x.matmul(w.t()).log_softmax(1)).sum(1);
            var trusted = nn.functional.cross_entropy(tx.matmul(w.t()), ty);
            return NonNegativeSummingToOneOrZero(LearningToReweight.Compute([w], losses, trusted).Weights.data<double>().ToArray());
        }));
    }
}
