using System.Diagnostics;
using System.Globalization;
using Superalign.Data;
using Superalign.Students;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Superalign.Experiments.Tasks;

/// <summary>
/// Options of a <see cref="RepresentationTask"/>; validated when the task is constructed (an invalid value throws
/// <see cref="ArgumentOutOfRangeException"/> naming the option).
/// </summary>
public sealed record RepresentationTaskOptions
{
    /// <summary>Width of the inputs <c>x ~ N(0, I)</c>. At least 1. Default 8.</summary>
    public int InputDimension { get; init; } = 8;

    /// <summary>Width of every hidden layer of the ground-truth network h*. At least 1. Default 16 (as in Charikar et al.).</summary>
    public int TargetWidth { get; init; } = 16;

    /// <summary>Hidden ReLU layers of h* (a linear output layer follows them). At least 1. Default 4.</summary>
    public int TargetDepth { get; init; } = 4;

    /// <summary>Width of the ground-truth representation h*(x), standardised to zero mean and unit variance. At least 1. Default 8.</summary>
    public int RepresentationDimension { get; init; } = 8;

    /// <summary>Classes of the transfer task (labels: argmax of a random linear head on h*). In [2, 64]. Default 3.</summary>
    public int Classes { get; init; } = 3;

    /// <summary>Regression tasks (frozen random linear heads on h*) the trunks are pretrained on. At least 1. Default 10.</summary>
    public int AuxiliaryTasks { get; init; } = 10;

    /// <summary>Adam updates of pretraining, each on a fresh batch. At least 1. Default 2000.</summary>
    public int PretrainSteps { get; init; } = 2000;

    /// <summary>Examples per pretraining batch. At least 1. Default 256.</summary>
    public int PretrainBatchSize { get; init; } = 256;

    /// <summary>Peak learning rate of pretraining (cosine decay to zero). Finite and &gt; 0. Default 5e-3.</summary>
    public double PretrainLearningRate { get; init; } = 5e-3;

    /// <summary>Seed of the task: h*, the heads, the data streams and the pretraining of every trunk derive from it.</summary>
    public long Seed { get; init; }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first option out of its range.</summary>
    public void Validate()
    {
        AtLeast(InputDimension, 1, nameof(InputDimension));
        AtLeast(TargetWidth, 1, nameof(TargetWidth));
        AtLeast(TargetDepth, 1, nameof(TargetDepth));
        AtLeast(RepresentationDimension, 1, nameof(RepresentationDimension));
        if (Classes < 2 || Classes > 64)
            throw new ArgumentOutOfRangeException(nameof(Classes), Classes, $"{nameof(RepresentationTaskOptions)}.{nameof(Classes)} must be in [2, 64]; got {Classes}.");
        AtLeast(AuxiliaryTasks, 1, nameof(AuxiliaryTasks));
        AtLeast(PretrainSteps, 1, nameof(PretrainSteps));
        AtLeast(PretrainBatchSize, 1, nameof(PretrainBatchSize));
        if (!(double.IsFinite(PretrainLearningRate) && PretrainLearningRate > 0))
            throw new ArgumentOutOfRangeException(nameof(PretrainLearningRate), PretrainLearningRate,
                $"{nameof(RepresentationTaskOptions)}.{nameof(PretrainLearningRate)} must be finite and > 0; got {PretrainLearningRate}.");
    }

    private static void AtLeast(long value, long min, string option)
    {
        if (value < min)
            throw new ArgumentOutOfRangeException(option, value, $"{nameof(RepresentationTaskOptions)}.{option} must be at least {min}; got {value}.");
    }
}

/// <summary>
/// The architecture of a pretrained trunk: <paramref name="Depth"/> ReLU layers of <paramref name="Width"/> units.
/// Shallow and narrow trunks represent h* poorly (weak models), deep and wide ones well (strong models).
/// </summary>
/// <param name="Width">Units per layer, which is also the feature dimension a probe reads. At least 1.</param>
/// <param name="Depth">ReLU layers. In [1, 16].</param>
/// <param name="Seed">
/// Seed of the trunk's initial weights and pretraining batches (mixed with the task seed); trunks of one size with
/// different seeds are different models, e.g. the diverse members of a weak ensemble.
/// </param>
public sealed record TrunkSpec(int Width, int Depth, long Seed = 0)
{
    /// <summary>The default weak trunks: one ReLU layer of 8 or 16 units.</summary>
    public static IReadOnlyList<TrunkSpec> WeakLadder { get; } = [new(8, 1), new(16, 1)];

    /// <summary>The default strong trunks, of increasing size: 32×2, 64×3, 128×4.</summary>
    public static IReadOnlyList<TrunkSpec> StrongLadder { get; } = [new(32, 2), new(64, 3), new(128, 4)];

    /// <summary>A short name such as <c>w16-d1</c> (with <c>-s3</c> appended for seed 3).</summary>
    public string Name => string.Create(CultureInfo.InvariantCulture, $"w{Width}-d{Depth}{(Seed == 0 ? "" : $"-s{Seed}")}");

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first value out of its range.</summary>
    public void Validate()
    {
        if (Width < 1)
            throw new ArgumentOutOfRangeException(nameof(Width), Width, $"{nameof(TrunkSpec)}.{nameof(Width)} must be at least 1; got {Width}.");
        if (Depth < 1 || Depth > 16)
            throw new ArgumentOutOfRangeException(nameof(Depth), Depth, $"{nameof(TrunkSpec)}.{nameof(Depth)} must be in [1, 16]; got {Depth}.");
    }

    /// <inheritdoc />
    public override string ToString() => Name;
}

/// <summary>How well a pretrained trunk learned, measured on fresh inputs after pretraining.</summary>
/// <param name="Spec">The trunk's architecture and seed.</param>
/// <param name="AuxiliaryR2">
/// R² of the pretraining head on the auxiliary regression tasks (1 − SSE/SST, pooled over the tasks): how well the
/// trunk solved what it was pretrained on.
/// </param>
/// <param name="RepresentationR2">
/// R² of the best linear map from the trunk's features to h*(x) (ridge least squares fitted on one fresh sample,
/// scored on another, pooled over the dimensions of h*): how much of the ground-truth representation a linear probe
/// on this trunk can read. The transfer task's labels are a linear function of h*, so a higher value means a better
/// ceiling.
/// </param>
/// <param name="FinalPretrainLoss">Mean squared error of the last pretraining batch.</param>
/// <param name="PretrainSeconds">Wall time of pretraining.</param>
public sealed record TrunkDiagnostics(TrunkSpec Spec, double AuxiliaryR2, double RepresentationR2, double FinalPretrainLoss, double PretrainSeconds);

/// <summary>
/// A frozen feature extractor of a <see cref="RepresentationTask"/>: <c>Depth</c> ReLU layers of <c>Width</c> units,
/// pretrained by regression on the task's auxiliary heads, followed by a fixed standardisation of its features (zero
/// mean, unit variance on the input distribution; dead units give 0). Feed it to
/// <see cref="LinearProbe(nn.Module{Tensor, Tensor}, LinearProbeOptions, Device?, string?)"/>, which freezes it.
/// </summary>
/// <remarks>The trunk belongs to the task that made it: the task disposes it.</remarks>
public sealed class RepresentationTrunk : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<Linear> layers;
    private readonly BatchNorm1d standardize;
    private bool _standardized;

    internal RepresentationTrunk(TrunkSpec spec, int inputDimension, Generator generator) : base($"trunk[{spec.Name}]")
    {
        Spec = spec;
        layers = new ModuleList<Linear>();
        long width = inputDimension;
        for (int i = 0; i < spec.Depth; i++)
        {
            var layer = nn.Linear(width, spec.Width);
            SeededInit.Default(layer, generator);
            layers.Add(layer);
            width = spec.Width;
        }
        standardize = nn.BatchNorm1d(spec.Width, eps: 1e-5, affine: false);
        RegisterComponents();
    }

    /// <summary>The architecture and seed.</summary>
    public TrunkSpec Spec { get; }

    /// <summary>Width of the features: <see cref="TrunkSpec.Width"/>.</summary>
    public int FeatureDimension => Spec.Width;

    /// <summary>Pretraining results; set once the task has pretrained the trunk.</summary>
    public TrunkDiagnostics Diagnostics { get; internal set; } = null!;

    /// <summary>Features <c>[B, Width]</c> of inputs <c>[B, InputDimension]</c>.</summary>
    public override Tensor forward(Tensor x)
    {
        foreach (var layer in layers) x = layer.call(x).relu();
        return _standardized ? standardize.call(x) : x;
    }

    /// <summary>Fixes the standardisation from features of a large sample and leaves the trunk in evaluation mode.</summary>
    internal void Standardize(Tensor rawFeatures)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var mean = rawFeatures.mean(new long[] { 0 });
        var variance = rawFeatures.var(new long[] { 0 }, unbiased: false);
        // A dead unit (variance 0) maps to 0: give it variance 1 so that (0 − 0)/1 = 0.
        variance = where(variance.gt(1e-12), variance, ones_like(variance));
        standardize.running_mean!.copy_(mean);
        standardize.running_var!.copy_(variance);
        _standardized = true;
        eval();
    }
}

/// <summary>
/// A synthetic task on which weak-to-strong generalization is real, after Charikar et al. (2024): a random deep ReLU
/// network h* defines the ground-truth representation; the transfer task's labels are the argmax of a random linear
/// head on h*; "pretrained" trunks of different capacity learn h* by regression on auxiliary tasks (frozen random
/// heads on h*), then are frozen. A linear probe on a deep, wide trunk can express the labels almost exactly; one on
/// a shallow, narrow trunk cannot, so it makes systematic errors that a strong probe trained on its labels cannot
/// reproduce — the student's gain is real knowledge of its trunk, not an artefact.
/// </summary>
/// <remarks>
/// <para>Everything is deterministic from <see cref="RepresentationTaskOptions.Seed"/> (for a fixed TorchSharp thread
/// count): the same seed gives the same h*, heads, samples and trunks; another seed gives another task.</para>
/// <para>Inputs are <c>x ~ N(0, I)</c>. h* has <c>TargetDepth</c> hidden ReLU layers of <c>TargetWidth</c> units
/// (He-normal weights, small normal biases) and a linear output of <c>RepresentationDimension</c> units, standardised
/// with statistics of a fixed reference sample. Auxiliary targets are <c>h*(x)·A</c> with <c>A</c> normal with
/// variance <c>1/RepresentationDimension</c>; the transfer logits are <c>h*(x)·W</c> minus their per-class mean over
/// the reference sample (which keeps the classes from collapsing onto one).</para>
/// <para>Trunks are pretrained on fresh batches (no data limit: capacity, not data, separates weak from strong) and
/// cached per <see cref="TrunkSpec"/> in the task, which owns and disposes them. Not thread-safe.</para>
/// </remarks>
public sealed class RepresentationTask : IDisposable
{
    private const int ReferenceSamples = 16384;
    private const int DiagnosticSamples = 4096;
    private const ulong StreamTarget = 1, StreamReference = 2, StreamTrunk = 3, StreamDiagnostics = 4, StreamSample = 5;

    private readonly List<(Tensor Weight, Tensor Bias)> _target = new();
    private readonly Tensor _representationMean, _representationScale;
    private readonly Tensor _auxiliaryHeads;   // [D, T]
    private readonly Tensor _transferHead;     // [D, C]
    private readonly Tensor _transferOffset;   // [C]
    private readonly Dictionary<TrunkSpec, RepresentationTrunk> _trunks = new();
    private bool _disposed;

    /// <summary>Builds the task (h*, the heads and the reference statistics) on <paramref name="device"/>; no trunk is pretrained yet.</summary>
    /// <param name="options">Options (validated here); null takes the defaults.</param>
    /// <param name="device">Where h* and the trunks live; null selects <see cref="Devices.Default"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the exception names it).</exception>
    public RepresentationTask(RepresentationTaskOptions? options = null, Device? device = null)
    {
        Options = options ?? new RepresentationTaskOptions();
        Options.Validate();
        Device = device ?? Devices.Default();
        // The task's own tensors are detached from every dispose scope: a caller's scope must not free them.
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var g = new Generator(Seed(StreamTarget), CPU);
        long width = Options.InputDimension;
        for (int i = 0; i <= Options.TargetDepth; i++)
        {
            long outputs = i == Options.TargetDepth ? Options.RepresentationDimension : Options.TargetWidth;
            var w = randn(new long[] { width, outputs }, generator: g).mul(Math.Sqrt(2.0 / width));
            var b = randn(new long[] { outputs }, generator: g).mul(0.1);
            _target.Add((w.to(Device).DetachFromDisposeScope(), b.to(Device).DetachFromDisposeScope()));
            width = outputs;
        }
        var aux = randn(new long[] { Options.RepresentationDimension, Options.AuxiliaryTasks }, generator: g).div(Math.Sqrt(Options.RepresentationDimension));
        var head = randn(new long[] { Options.RepresentationDimension, Options.Classes }, generator: g);
        _auxiliaryHeads = aux.to(Device).DetachFromDisposeScope();
        _transferHead = head.to(Device).DetachFromDisposeScope();

        var reference = Inputs(ReferenceSamples, Seed(StreamReference));
        var raw = RawRepresentation(reference);
        _representationMean = raw.mean(new long[] { 0 }).DetachFromDisposeScope();
        var std = raw.std(new long[] { 0 }, unbiased: false);
        _representationScale = where(std.gt(1e-12), std.reciprocal(), zeros_like(std)).DetachFromDisposeScope();
        var logits = ((raw - _representationMean) * _representationScale).matmul(_transferHead);
        _transferOffset = logits.mean(new long[] { 0 }).DetachFromDisposeScope();
    }

    /// <summary>The options in force.</summary>
    public RepresentationTaskOptions Options { get; }

    /// <summary>Where h*, the samples and the trunks live.</summary>
    public Device Device { get; }

    /// <summary>Number of classes of the transfer task.</summary>
    public int Classes => Options.Classes;

    /// <summary>Width of the inputs.</summary>
    public int InputDimension => Options.InputDimension;

    /// <summary>The trunks pretrained so far, in no particular order.</summary>
    public IReadOnlyCollection<RepresentationTrunk> PretrainedTrunks => _trunks.Values;

    /// <summary>The standardised ground-truth representation h*(x), <c>[B, RepresentationDimension]</c>, without gradient.</summary>
    /// <param name="inputs">Inputs <c>[B, InputDimension]</c> on <see cref="Device"/>.</param>
    public Tensor Representation(Tensor inputs)
    {
        CheckInputs(inputs);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        return ((RawRepresentation(inputs) - _representationMean) * _representationScale).MoveToOuterDisposeScope();
    }

    /// <summary>The auxiliary regression targets <c>[B, AuxiliaryTasks]</c> the trunks are pretrained on.</summary>
    /// <param name="inputs">Inputs <c>[B, InputDimension]</c> on <see cref="Device"/>.</param>
    public Tensor AuxiliaryTargets(Tensor inputs)
    {
        using var scope = NewDisposeScope();
        return Representation(inputs).matmul(_auxiliaryHeads).MoveToOuterDisposeScope();
    }

    /// <summary>The transfer task's true labels <c>[B]</c> (int64): argmax of the centred linear head on h*.</summary>
    /// <param name="inputs">Inputs <c>[B, InputDimension]</c> on <see cref="Device"/>.</param>
    public Tensor Labels(Tensor inputs)
    {
        using var scope = NewDisposeScope();
        return (Representation(inputs).matmul(_transferHead) - _transferOffset).argmax(1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <paramref name="count"/> labeled examples of the transfer task, drawn from the stream named by
    /// <paramref name="sampleSeed"/> (mixed with the task seed): the same pair of seeds gives the same examples,
    /// different sample seeds give independent ones (e.g. a training and a test set).
    /// </summary>
    /// <param name="count">Number of examples (at least 1).</param>
    /// <param name="sampleSeed">Which stream of examples.</param>
    /// <returns>Features <c>[count, InputDimension]</c> (float32) and labels <c>[count]</c> on <see cref="Device"/>.</returns>
    public ClassificationTable Sample(int count, long sampleSeed)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, $"{nameof(count)} must be at least 1; got {count}.");
        var x = Inputs(count, Seed(StreamSample, sampleSeed));
        var names = Enumerable.Range(0, InputDimension).Select(i => string.Create(CultureInfo.InvariantCulture, $"x{i}")).ToArray();
        return new ClassificationTable(x, Labels(x), names, Classes);
    }

    /// <summary>
    /// The trunk of <paramref name="spec"/>, pretrained on the auxiliary tasks the first time it is asked for and
    /// cached afterwards (the same instance is returned for the same spec). Owned by the task.
    /// </summary>
    /// <param name="spec">Architecture and seed (validated here).</param>
    /// <exception cref="ArgumentOutOfRangeException">The spec is out of range (the exception names the value).</exception>
    public RepresentationTrunk Trunk(TrunkSpec spec)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        if (_trunks.TryGetValue(spec, out var cached)) return cached;
        var trunk = Pretrain(spec);
        _trunks.Add(spec, trunk);
        return trunk;
    }

    /// <summary>A fresh <see cref="LinearProbe"/> over the (pretrained, frozen) trunk of <paramref name="spec"/>.</summary>
    /// <param name="spec">The trunk.</param>
    /// <param name="zeroInitHead">Start the head at zero, as the weak-to-strong reference code does (default true).</param>
    /// <param name="headSeed">Seed of the head when it is not zero-initialised.</param>
    public LinearProbe Probe(TrunkSpec spec, bool zeroInitHead = true, long headSeed = 0)
    {
        var trunk = Trunk(spec);
        return new LinearProbe(trunk, new LinearProbeOptions(InputDimension, trunk.FeatureDimension, Classes, zeroInitHead, headSeed), Device, $"probe[{spec.Name}]");
    }

    private RepresentationTrunk Pretrain(TrunkSpec spec)
    {
        var watch = Stopwatch.StartNew();
        ulong trunkSeed = Seed(StreamTrunk, spec.Width, spec.Depth, spec.Seed);
        var (trunk, head) = SeededInit.Build(unchecked((long)trunkSeed), g =>
        {
            var t = new RepresentationTrunk(spec, InputDimension, g);
            var h = nn.Linear(spec.Width, Options.AuxiliaryTasks);
            SeededInit.Default(h, g);
            return (t, h);
        });
        trunk.to(Device);
        head.to(Device);
        var parameters = trunk.parameters().Concat(head.parameters()).ToList();
        double finalLoss;
        // Pretraining needs gradients even when the trunk is first asked for under a caller's no_grad.
        using (enable_grad())
        using (var optimizer = optim.Adam(parameters, Options.PretrainLearningRate))
        using (var data = new Generator(trunkSeed ^ 0x5DEECE66DUL, CPU))
        {
            var schedule = optim.lr_scheduler.CosineAnnealingLR(optimizer, Options.PretrainSteps);
            trunk.train();
            finalLoss = double.NaN;
            for (int step = 0; step < Options.PretrainSteps; step++)
            {
                using var scope = NewDisposeScope();
                var x = Inputs(Options.PretrainBatchSize, data);
                var y = AuxiliaryTargets(x);
                var loss = nn.functional.mse_loss(head.call(trunk.call(x)), y);
                optimizer.zero_grad();
                loss.backward();
                optimizer.step();
                schedule.step();
                if (step == Options.PretrainSteps - 1) finalLoss = loss.ToDouble();
            }
        }

        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            trunk.eval();
            using var g = new Generator(Seed(StreamDiagnostics), CPU);
            var fitX = Inputs(DiagnosticSamples, g);
            var testX = Inputs(DiagnosticSamples, g);
            // The pretraining head reads the raw features: score it before the standardisation is switched on.
            double auxR2 = R2(head.call(trunk.call(testX)) - AuxiliaryTargets(testX), AuxiliaryTargets(testX));
            trunk.Standardize(trunk.call(Inputs(ReferenceSamples, Seed(StreamReference))));
            double repR2 = LinearFitR2(trunk.call(fitX), Representation(fitX), trunk.call(testX), Representation(testX));
            trunk.Diagnostics = new TrunkDiagnostics(spec, auxR2, repR2, finalLoss, watch.Elapsed.TotalSeconds);
        }
        head.Dispose();
        foreach (var p in trunk.parameters()) p.requires_grad = false;
        return trunk;
    }

    /// <summary>Pooled R² = 1 − Σ residual² / Σ (target − mean)².</summary>
    private static double R2(Tensor residual, Tensor target)
    {
        double sse = residual.pow(2).sum().ToDouble();
        double sst = (target - target.mean(new long[] { 0 })).pow(2).sum().ToDouble();
        return sst > 0 ? 1 - sse / sst : double.NaN;
    }

    /// <summary>Held-out R² of a ridge least-squares map (with intercept) from features to targets.</summary>
    private static double LinearFitR2(Tensor fitFeatures, Tensor fitTargets, Tensor testFeatures, Tensor testTargets)
    {
        var a = cat(new[] { fitFeatures, ones(fitFeatures.shape[0], 1, device: fitFeatures.device) }, 1).to_type(ScalarType.Float64);
        var gram = a.T.matmul(a) + eye(a.shape[1], dtype: ScalarType.Float64, device: a.device) * (1e-6 * a.shape[0]);
        var coef = linalg.solve(gram, a.T.matmul(fitTargets.to_type(ScalarType.Float64)));
        var t = cat(new[] { testFeatures, ones(testFeatures.shape[0], 1, device: testFeatures.device) }, 1).to_type(ScalarType.Float64);
        var target = testTargets.to_type(ScalarType.Float64);
        return R2(t.matmul(coef) - target, target);
    }

    private Tensor RawRepresentation(Tensor x)
    {
        for (int i = 0; i < _target.Count; i++)
        {
            x = x.matmul(_target[i].Weight) + _target[i].Bias;
            if (i < _target.Count - 1) x = x.relu();
        }
        return x;
    }

    private Tensor Inputs(int count, ulong seed)
    {
        using var g = new Generator(seed, CPU);
        return Inputs(count, g);
    }

    private Tensor Inputs(int count, Generator g) => randn(new long[] { count, InputDimension }, generator: g).to(Device);

    private void CheckInputs(Tensor inputs)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.dim() != 2 || inputs.shape[1] != InputDimension)
            throw new ArgumentException($"inputs must have shape [B, {InputDimension}]; got [{string.Join(", ", inputs.shape)}].", nameof(inputs));
    }

    /// <summary>A seed for one named stream, mixed from the task seed and the stream's coordinates (SplitMix64).</summary>
    private ulong Seed(ulong stream, params long[] coordinates)
    {
        ulong h = Mix(unchecked((ulong)Options.Seed) ^ Mix(stream));
        foreach (var c in coordinates) h = Mix(h ^ unchecked((ulong)c + 0x632BE59BD9B4E019UL));
        return h;
    }

    private static ulong Mix(ulong z)
    {
        unchecked
        {
            z += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }

    /// <summary>Disposes h*, the heads and every cached trunk.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        foreach (var (w, b) in _target)
        {
            w.Dispose();
            b.Dispose();
        }
        _representationMean.Dispose();
        _representationScale.Dispose();
        _auxiliaryHeads.Dispose();
        _transferHead.Dispose();
        _transferOffset.Dispose();
        foreach (var trunk in _trunks.Values) trunk.Dispose();
        _trunks.Clear();
        _disposed = true;
    }
}
