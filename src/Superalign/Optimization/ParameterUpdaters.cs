using System.Runtime.CompilerServices;
using Superalign.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Superalign.Optimization;

/// <summary>Maxima and finiteness of tensors, in one pass each and one read-back.</summary>
internal static class Finite
{
    /// <summary>
    /// True when no element is NaN or infinite: <see cref="MaxAbs"/> is finite (NaN propagates to it). One reduction per
    /// tensor without an element-sized temporary; <c>isfinite</c> would make three.
    /// </summary>
    public static bool All(params Tensor[] tensors) => double.IsFinite(MaxAbs(tensors));

    /// <summary>max|t| over <paramref name="tensors"/>: one pass each and one read-back (NaN when one holds a NaN; 0 when all are empty).</summary>
    public static double MaxAbs(params Tensor[] tensors)
    {
        using var scope = NewDisposeScope();
        var bounds = new List<Tensor>(2 * tensors.Length);
        foreach (var t in tensors)
        {
            if (t.numel() == 0) continue;
            var (min, max) = t.aminmax();
            bounds.Add(min);
            bounds.Add(max);
        }
        if (bounds.Count == 0) return 0;
        // Float64 holds every value of the narrower floating dtypes exactly.
        var dtype = bounds[0].dtype;
        var all = bounds.All(b => b.dtype == dtype) ? stack(bounds) : stack(bounds.Select(b => b.to_type(ScalarType.Float64)).ToArray());
        var values = all.to_type(ScalarType.Float64).cpu().data<double>().ToArray();
        double result = 0;
        foreach (double x in values) result = Math.Max(result, Math.Abs(x));
        return result;
    }
}

/// <summary>The smallest normal and the largest finite value of the floating-point dtypes.</summary>
internal static class FloatRange
{
    public static (double SmallestNormal, double Largest) Of(ScalarType dtype) => dtype switch
    {
        ScalarType.Float16 => (6.103515625e-05, 65504.0),
        ScalarType.BFloat16 => (1.1754943508222875e-38, 3.3895313892515355e38),
        ScalarType.Float64 => (2.2250738585072014e-308, double.MaxValue),
        _ => (1.1754943508222875e-38, 3.4028234663852886e38),
    };
}

/// <summary>
/// Decides from a few maxima whether an AdamW update certainly stays finite, so that it can be applied in place
/// without keeping copies to undo it (what most updates are). The bounds: with G ≥ max|g| (the gradient norm before
/// clipping, or measured), the new moments satisfy max|m'| ≤ β₁M + (1 − β₁)G and max v' ≤ β₂V + (1 − β₂)G², where M
/// and V bound the current moments (tracked through these recursions, and measured again when the moments were
/// replaced and every 1,000 updates, so float rounding cannot accumulate); AdamW's denominator is at least ε, so a
/// parameter moves by at most lr/(1 − β₁ᵗ)·max|m'|/ε. When these, and max|p|·(1 + lr·wd) plus that move, stay below a
/// quarter of the dtype's largest value, nothing can overflow; otherwise the caller takes the path that copies and
/// checks.
/// </summary>
internal sealed class UpdateBound
{
    private const int RefreshEvery = 1000;
    private readonly AdamWSettings _settings;
    private readonly double _limit;
    private double _m, _v, _nextM, _nextV;
    private int _sinceRefresh;

    public UpdateBound(AdamWSettings settings, ScalarType dtype)
    {
        _settings = settings;
        _limit = 0.25 * FloatRange.Of(dtype).Largest;
    }

    /// <summary>An upper bound of max|g| from the last clipping, or NaN when the gradients may have changed since.</summary>
    public double Gradient { get; set; } = double.NaN;

    /// <summary>The moments were replaced (a restore): measure them before the next update.</summary>
    public void Forget() => _m = _v = double.NaN;

    /// <summary>Whether the next update certainly stays finite.</summary>
    /// <param name="lr">The update's learning rate.</param>
    /// <param name="bias1">Its first-moment bias correction 1 − β₁ᵗ (or a lower bound of it).</param>
    /// <param name="maxAbsParameter">Measures max|p|.</param>
    /// <param name="maxAbsGradient">Measures max|g| (used when <see cref="Gradient"/> is unknown).</param>
    /// <param name="moments">Measures max|m| and max v.</param>
    public bool Safe(double lr, double bias1, Func<double> maxAbsParameter, Func<double> maxAbsGradient, Func<(double M, double V)> moments)
    {
        if (double.IsNaN(_m) || double.IsNaN(_v) || _sinceRefresh >= RefreshEvery)
        {
            (_m, _v) = moments();
            _sinceRefresh = 0;
        }
        var (b1, b2, eps, wd) = (_settings.Beta1, _settings.Beta2, _settings.Epsilon, _settings.WeightDecay);
        double g = double.IsNaN(Gradient) ? maxAbsGradient() : Gradient;
        _nextM = b1 * _m + (1 - b1) * g;
        _nextV = b2 * _v + (1 - b2) * g * g;
        double ratio = _nextM / eps;
        double decayed = maxAbsParameter() * (1 + lr * wd);
        // NaN fails every comparison: an unknown or non-finite quantity is never "safe".
        return _nextV < _limit && ratio < _limit && decayed < _limit && decayed + lr / bias1 * ratio < _limit;
    }

    /// <summary>The update <see cref="Safe"/> was asked about was applied: its moment bounds hold now.</summary>
    public void Committed()
    {
        (_m, _v) = (_nextM, _nextV);
        _sinceRefresh++;
        if (!(double.IsFinite(_m) && double.IsFinite(_v))) Forget();
    }
}

/// <summary>AdamW hyper-parameters shared by the two update implementations.</summary>
internal readonly record struct AdamWSettings(double Beta1, double Beta2, double Epsilon, double WeightDecay);

/// <summary>Applies parameter updates from accumulated gradients; its state (moments, step count) goes into checkpoints.</summary>
internal interface IParameterUpdater : IDisposable, ICheckpointable
{
    /// <summary>Zeroes the gradients.</summary>
    void ZeroGrad();

    /// <summary>Global gradient norm; scales the gradients down to <paramref name="maxNorm"/> when above it (0 = never).</summary>
    double ClipGradients(double maxNorm);

    /// <summary>
    /// One AdamW update with learning rate <paramref name="lr"/>. Returns false, with the parameters and the optimizer
    /// state unchanged, when the update would leave a parameter or a second moment NaN or infinite.
    /// </summary>
    bool Step(double lr);

    /// <summary>
    /// The gradient tensors <see cref="Step"/> reads, as live views (in-place changes are what the update sees): the
    /// flat gradient buffer, or each parameter's gradient (null where a parameter has none). Not to be disposed.
    /// </summary>
    IReadOnlyList<Tensor?> Gradients();
}

/// <summary>
/// AdamW over one flat buffer: every parameter and its gradient become views into contiguous buffers, so an update,
/// the gradient norm and clipping cost a handful of native calls whatever the number of parameter tensors
/// (TorchSharp's optimizers loop over tensors in managed code, about 20 µs each). The arithmetic is that of
/// <c>torch.optim.AdamW</c>: decoupled weight decay, bias-corrected moments.
/// </summary>
/// <remarks>
/// The parameters keep their identity (modules, state dicts and checkpoints see no difference); only their storage
/// moves into the buffer. Gradients accumulate in place into the gradient buffer, so they must not be set to null
/// (use <see cref="ZeroGrad"/>).
/// </remarks>
internal sealed class FlatAdamW : IParameterUpdater
{
    private readonly AdamWSettings _settings;
    private readonly Tensor _params, _grads, _m, _v;
    private readonly UpdateBound _bound;
    private long _t;

    public FlatAdamW(IReadOnlyList<Parameter> parameters, AdamWSettings settings)
    {
        if (!CanFlatten(parameters, out string? why)) throw new ArgumentException(why, nameof(parameters));
        _settings = settings;
        _bound = new UpdateBound(settings, parameters[0].dtype);
        var home = FlatHome.Of(parameters);
        _params = home.Params;
        _grads = home.Grads;
        // The optimizer outlives any dispose scope its caller may have open.
        _m = zeros_like(_params).DetachFromDisposeScope();
        _v = zeros_like(_params).DetachFromDisposeScope();
    }

    /// <summary>Whether the parameters can share one buffer: same dtype (floating point) and device, all dense.</summary>
    public static bool CanFlatten(IReadOnlyList<Parameter> parameters, out string? why)
    {
        why = null;
        if (parameters.Count == 0) { why = "No parameters."; return false; }
        var dtype = parameters[0].dtype;
        var device = parameters[0].device;
        foreach (var p in parameters)
        {
            if (p.dtype != dtype || p.device_type != device.type || p.device_index != device.index)
            {
                why = "All parameters must share one dtype and device to be flattened.";
                return false;
            }
        }
        if (!parameters[0].is_floating_point()) { why = "Parameters must be floating point."; return false; }
        return true;
    }

    public void ZeroGrad()
    {
        _grads.zero_();
        // Backward passes will fill them: unknown until clipped or measured.
        _bound.Gradient = double.NaN;
    }

    public double ClipGradients(double maxNorm)
    {
        double norm = _grads.norm().ToDouble();
        if (maxNorm > 0 && double.IsFinite(norm) && norm > maxNorm)
        {
            using var _ = no_grad();
            _grads.mul_(maxNorm / (norm + 1e-6));
        }
        // Every |g| is at most the norm, before clipping as after.
        _bound.Gradient = norm;
        return norm;
    }

    public bool Step(double lr)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        long t = _t + 1;
        double bias1 = 1 - Math.Pow(_settings.Beta1, t);
        // Gradients reach the buffer through backward passes the bound does not see: measured unless clipping told it.
        if (_bound.Safe(lr, bias1, () => Finite.MaxAbs(_params), () => Finite.MaxAbs(_grads), () => (Finite.MaxAbs(_m), Finite.MaxAbs(_v))))
        {
            Apply(lr, t);
            _bound.Committed();
            return true;
        }
        // The bound cannot rule out an overflow: copy the state into buffers kept for the purpose, apply, check, and
        // put the copies back if a parameter or a second moment came out NaN or infinite.
        CheckedUpdates++;
        _backup ??= Backup.Create(_params);
        _backup.Params.copy_(_params);
        _backup.M.copy_(_m);
        _backup.V.copy_(_v);
        Apply(lr, t);
        if (Finite.All(_params, _v))
        {
            _bound.Committed();
            return true;
        }
        _params.copy_(_backup.Params);
        _m.copy_(_backup.M);
        _v.copy_(_backup.V);
        _t = t - 1;
        return false;
    }

    /// <summary>Updates that took the copy-and-check path (the bound could not rule out an overflow).</summary>
    internal int CheckedUpdates { get; private set; }

    /// <summary>torch.optim.AdamW's update, in place.</summary>
    private void Apply(double lr, long t)
    {
        var (b1, b2, eps, wd) = (_settings.Beta1, _settings.Beta2, _settings.Epsilon, _settings.WeightDecay);
        if (wd != 0) _params.mul_(1 - lr * wd);
        _m.mul_(b1).add_(_grads, alpha: 1 - b1);
        _v.mul_(b2).addcmul_(_grads, _grads, value: 1 - b2);
        double bias1 = 1 - Math.Pow(b1, t);
        double bias2 = 1 - Math.Pow(b2, t);
        var denom = _v.sqrt().div_(Math.Sqrt(bias2)).add_(eps);
        _params.addcdiv_(_m, denom, value: -lr / bias1);
        _t = t;
    }

    /// <summary>Buffers the state is copied into before an update, to be put back if the update is not finite.</summary>
    private sealed record Backup(Tensor Params, Tensor M, Tensor V)
    {
        public static Backup Create(Tensor like) => new(
            empty_like(like).DetachFromDisposeScope(), empty_like(like).DetachFromDisposeScope(), empty_like(like).DetachFromDisposeScope());

        public void Dispose()
        {
            Params.Dispose();
            M.Dispose();
            V.Dispose();
        }
    }

    private Backup? _backup;

    public IReadOnlyList<Tensor?> Gradients()
    {
        // The caller may write them: the clipping that follows tells the bound again.
        _bound.Gradient = double.NaN;
        return new[] { _grads };
    }

    /// <summary>
    /// A copy of the parameters, moments and step count, in the current dispose scope, for <see cref="Restore"/>: a
    /// trial update can then be undone exactly.
    /// </summary>
    public FlatAdamWState Save()
    {
        using var _ = no_grad();
        return new FlatAdamWState(_params.clone(), _m.clone(), _v.clone(), _t);
    }

    /// <summary>Puts back the parameters, moments and step count of <paramref name="state"/>, bit for bit.</summary>
    public void Restore(FlatAdamWState state)
    {
        using var _ = no_grad();
        _params.copy_(state.Params);
        _m.copy_(state.M);
        _v.copy_(state.V);
        _t = state.T;
        _bound.Forget();
    }

    public void SaveState(CheckpointWriter writer)
    {
        writer.Write("kind", "flat-adamw");
        writer.Write("m", _m);
        writer.Write("v", _v);
        writer.Write("t", _t);
    }

    public Action PrepareRestore(CheckpointReader reader)
    {
        string kind = reader.ReadString("kind");
        if (kind != "flat-adamw")
            throw reader.Invalid("kind", $"the checkpoint's optimizer state is '{kind}', this optimizer uses the flat buffer ('flat-adamw'): build it with the same FlatParameterBuffer setting and parameters.");
        long t = reader.ReadInt64("t", 0, long.MaxValue);
        var m = reader.ReadTensor("m", _m.dtype, _m.shape).DetachFromDisposeScope();
        var v = reader.ReadTensor("v", _v.dtype, _v.shape).DetachFromDisposeScope();
        return () =>
        {
            using var _ = no_grad();
            _m.copy_(m);
            _v.copy_(v);
            _t = t;
            _bound.Forget();
            m.Dispose();
            v.Dispose();
        };
    }

    public void Dispose()
    {
        // The parameters still view the buffer; only the optimizer's own state is released.
        _m.Dispose();
        _v.Dispose();
        _backup?.Dispose();
    }
}

/// <summary>A saved <see cref="FlatAdamW"/> state: copies of the parameter buffer and the moments, and the step count.</summary>
internal sealed record FlatAdamWState(Tensor Params, Tensor M, Tensor V, long T);

/// <summary>
/// The contiguous parameter and gradient buffers a set of parameters lives in. Made once per parameter set and shared
/// by every <see cref="FlatAdamW"/> over the same set, so several optimizers of one student (one per phase, say) all
/// update the student's own weights; each keeps its own moments.
/// </summary>
internal sealed class FlatHome
{
    private static readonly ConditionalWeakTable<Parameter, FlatHome> Homes = new();
    private static readonly object Gate = new();
    private readonly Parameter[] _members;

    private FlatHome(Parameter[] members, Tensor parameters, Tensor gradients) =>
        (_members, Params, Grads) = (members, parameters, gradients);

    public Tensor Params { get; }

    public Tensor Grads { get; }

    /// <summary>The buffers of <paramref name="parameters"/>: the existing ones, or new ones the parameters move into.</summary>
    /// <exception cref="InvalidOperationException">Some of the parameters already live in a buffer of a different set.</exception>
    public static FlatHome Of(IReadOnlyList<Parameter> parameters)
    {
        lock (Gate)
        {
            if (Homes.TryGetValue(parameters[0], out var home) && home.Owns(parameters))
            {
                home.Reattach();
                return home;
            }
            if (parameters.Any(p => Homes.TryGetValue(p, out _)))
                throw new InvalidOperationException(
                    "Some of these parameters already live in the flat buffer of another parameter set (an optimizer over a different " +
                    "list of the same tensors). Give every optimizer of a student the same parameter list, or set FlatParameterBuffer = false.");
            home = Create(parameters);
            foreach (var p in parameters) Homes.Add(p, home);
            return home;
        }
    }

    private bool Owns(IReadOnlyList<Parameter> parameters)
    {
        if (parameters.Count != _members.Length) return false;
        for (int i = 0; i < _members.Length; i++)
            if (!ReferenceEquals(parameters[i], _members[i])) return false;
        return true;
    }

    private static FlatHome Create(IReadOnlyList<Parameter> parameters)
    {
        var first = parameters[0];
        long total = parameters.Sum(p => p.numel());
        // Owned by the home, which lives as long as the parameters: never by a dispose scope the caller has open.
        var flat = empty(total, dtype: first.dtype, device: first.device).DetachFromDisposeScope();
        var grads = zeros(total, dtype: first.dtype, device: first.device).DetachFromDisposeScope();
        using var _ = no_grad();
        long offset = 0;
        foreach (var p in parameters)
        {
            long n = p.numel();
            var view = flat.narrow(0, offset, n).view(p.shape);
            view.copy_(p);
            p.set_(view);
            p.grad = grads.narrow(0, offset, n).view(p.shape);
            offset += n;
        }
        return new FlatHome(parameters.ToArray(), flat, grads);
    }

    /// <summary>Points every gradient back at the gradient buffer (a caller may have replaced or cleared one).</summary>
    private void Reattach()
    {
        long offset = 0;
        foreach (var p in _members)
        {
            long n = p.numel();
            p.grad = Grads.narrow(0, offset, n).view(p.shape);
            offset += n;
        }
    }
}

/// <summary>TorchSharp's own <c>torch.optim.AdamW</c>: one managed loop over the parameter tensors per update.</summary>
internal sealed class TorchAdamW : IParameterUpdater
{
    private readonly IReadOnlyList<Parameter> _parameters;
    private readonly optim.Optimizer _adam;
    private readonly AdamW _adamW;
    private readonly AdamWSettings _settings;
    private readonly UpdateBound _bound;

    public TorchAdamW(IReadOnlyList<Parameter> parameters, double lr, AdamWSettings s)
    {
        _parameters = parameters;
        _settings = s;
        _adamW = optim.AdamW(parameters, lr, s.Beta1, s.Beta2, s.Epsilon, s.WeightDecay);
        _adam = _adamW;
        // The narrowest dtype among the parameters sets the limit.
        var order = new[] { ScalarType.Float16, ScalarType.BFloat16, ScalarType.Float32, ScalarType.Float64 };
        var dtypes = parameters.Select(p => p.dtype).ToHashSet();
        _bound = new UpdateBound(s, order.FirstOrDefault(dtypes.Contains, ScalarType.Float32));
    }

    public void ZeroGrad()
    {
        _adam.zero_grad();
        _bound.Gradient = double.NaN;
    }

    public double ClipGradients(double maxNorm)
    {
        var grads = _parameters.Select(p => p.grad).OfType<Tensor>().ToArray();
        if (grads.Length == 0) return 0;
        using var scope = NewDisposeScope();
        double total = stack(grads.Select(g => g.norm()).ToArray()).norm().ToDouble();
        if (maxNorm > 0 && double.IsFinite(total) && total > maxNorm)
        {
            using var _ = no_grad();
            foreach (var g in grads) g.mul_(maxNorm / (total + 1e-6));
        }
        _bound.Gradient = total;
        return total;
    }

    public bool Step(double lr)
    {
        foreach (var group in _adamW.ParamGroups) group.LearningRate = lr;
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        // The per-parameter states persist across steps: looked up again only until there is one per parameter.
        if (_states is null || _states.Count != _parameters.Count) _states = _adamW.state_dict().State.OfType<AdamW.State>().ToList();
        var states = _states;
        var grads = _parameters.Select(p => p.grad).OfType<Tensor>().ToArray();
        // Its step counts may differ per parameter: 1 − β₁ is the smallest bias correction of any of them.
        if (_bound.Safe(lr, 1 - _settings.Beta1, () => Finite.MaxAbs([.. _parameters]), () => Finite.MaxAbs(grads),
                () => (Finite.MaxAbs(states.Select(st => st.exp_avg).OfType<Tensor>().ToArray()), Finite.MaxAbs(states.Select(st => st.exp_avg_sq).OfType<Tensor>().ToArray()))))
        {
            _adam.step();
            _bound.Committed();
            return true;
        }
        // TorchSharp's AdamW updates in place: copy what it changes (parameters, moments, step counts) into buffers kept
        // for the purpose, to put back if the result is not finite.
        if (_backups is null || _backups.Length != _parameters.Count + 2 * states.Count)
        {
            foreach (var b in _backups ?? []) b?.Dispose();
            _backups = _parameters.Select(p => (Tensor?)empty_like(p).DetachFromDisposeScope())
                .Concat(states.SelectMany(st => new[] { st.exp_avg, st.exp_avg_sq }).Select(x => x is null ? null : empty_like(x).DetachFromDisposeScope()))
                .ToArray();
        }
        var live = _parameters.Select(p => (Tensor?)p).Concat(states.SelectMany(st => new[] { st.exp_avg, st.exp_avg_sq })).ToArray();
        for (int i = 0; i < live.Length; i++) if (live[i] is { } x && _backups[i] is { } b) b.copy_(x);
        var steps = states.Select(st => st.step).ToArray();
        _adam.step();
        if (Finite.All(_parameters.Concat(states.Select(st => st.exp_avg_sq).OfType<Tensor>()).ToArray()))
        {
            _bound.Committed();
            return true;
        }
        for (int i = 0; i < live.Length; i++) Restore(live[i], _backups[i]);
        for (int i = 0; i < states.Count; i++) states[i].step = steps[i];
        return false;

        static void Restore(Tensor? live, Tensor? copy)
        {
            if (live is null) return;
            if (copy is null) live.zero_();
            else live.copy_(copy);
        }
    }

    public IReadOnlyList<Tensor?> Gradients()
    {
        _bound.Gradient = double.NaN;
        return _parameters.Select(p => p.grad).ToArray();
    }

    public void SaveState(CheckpointWriter writer)
    {
        writer.Write("kind", "torch-adamw");
        using var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true)) _adamW.save_state_dict(w);
        writer.Write("state", buffer.ToArray());
    }

    public Action PrepareRestore(CheckpointReader reader)
    {
        string kind = reader.ReadString("kind");
        if (kind != "torch-adamw")
            throw reader.Invalid("kind", $"the checkpoint's optimizer state is '{kind}', this optimizer uses TorchSharp's AdamW ('torch-adamw'): build it with the same FlatParameterBuffer setting and parameters.");
        var state = reader.ReadBytes("state");
        // Tried first on a scratch optimizer over zero parameters of the same shapes: a state that does not fit fails there.
        using (var scope = NewDisposeScope())
        {
            var scratch = _parameters.Select(p => new Parameter(zeros_like(p), requires_grad: true)).ToList();
            using var trial = optim.AdamW(scratch, 1e-3);
            try
            {
                using var r = new BinaryReader(new MemoryStream(state));
                trial.load_state_dict(r);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                throw reader.Invalid("state", $"does not fit this optimizer's parameters ({e.Message.Split('\n')[0]}).");
            }
        }
        return () =>
        {
            using var r = new BinaryReader(new MemoryStream(state));
            _adamW.load_state_dict(r);
            _states = null;
            _bound.Forget();
        };
    }

    private Tensor?[]? _backups;
    private List<AdamW.State>? _states;

    public void Dispose()
    {
        _adam.Dispose();
        foreach (var b in _backups ?? []) b?.Dispose();
    }
}
