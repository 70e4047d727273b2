using System.Runtime.CompilerServices;
using Superalign.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Superalign.Optimization;

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
    private readonly Tensor _params, _grads;
    private Tensor _m, _v;
    private long _t;

    public FlatAdamW(IReadOnlyList<Parameter> parameters, AdamWSettings settings)
    {
        if (!CanFlatten(parameters, out string? why)) throw new ArgumentException(why, nameof(parameters));
        _settings = settings;
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
    }

    public double ClipGradients(double maxNorm)
    {
        double norm = _grads.norm().ToDouble();
        if (maxNorm > 0 && double.IsFinite(norm) && norm > maxNorm)
        {
            using var _ = no_grad();
            _grads.mul_(maxNorm / (norm + 1e-6));
        }
        return norm;
    }

    public bool Step(double lr)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        // The update is computed beside the state, checked, then committed: a NaN or infinity changes nothing. The
        // operations and their order are those of the in-place update, so the results are bitwise the same.
        long t = _t + 1;
        var (b1, b2, eps, wd) = (_settings.Beta1, _settings.Beta2, _settings.Epsilon, _settings.WeightDecay);
        var parameters = wd != 0 ? _params.mul(1 - lr * wd) : _params.clone();
        var m = _m.mul(b1).add_(_grads, alpha: 1 - b1);
        var v = _v.mul(b2).addcmul_(_grads, _grads, value: 1 - b2);
        double bias1 = 1 - Math.Pow(b1, t);
        double bias2 = 1 - Math.Pow(b2, t);
        var denom = v.sqrt().div_(Math.Sqrt(bias2)).add_(eps);
        parameters.addcdiv_(m, denom, value: -lr / bias1);
        if (!(parameters.isfinite().all().item<bool>() && v.isfinite().all().item<bool>())) return false;
        _params.copy_(parameters);
        _m.Dispose();
        _v.Dispose();
        _m = m.DetachFromDisposeScope();
        _v = v.DetachFromDisposeScope();
        _t = t;
        return true;
    }

    public IReadOnlyList<Tensor?> Gradients() => new[] { _grads };

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
            m.Dispose();
            v.Dispose();
        };
    }

    public void Dispose()
    {
        // The parameters still view the buffer; only the optimizer's own state is released.
        _m.Dispose();
        _v.Dispose();
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

    public TorchAdamW(IReadOnlyList<Parameter> parameters, double lr, AdamWSettings s)
    {
        _parameters = parameters;
        _adamW = optim.AdamW(parameters, lr, s.Beta1, s.Beta2, s.Epsilon, s.WeightDecay);
        _adam = _adamW;
    }

    public void ZeroGrad() => _adam.zero_grad();

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
        return total;
    }

    public bool Step(double lr)
    {
        foreach (var group in _adamW.ParamGroups) group.LearningRate = lr;
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        // TorchSharp's AdamW updates in place: keep copies of what it changes (parameters, moments, step counts) to put
        // back if the result is not finite.
        var before = _parameters.Select(p => p.clone()).ToList();
        var states = _adamW.state_dict().State.OfType<AdamW.State>().ToList();
        var saved = states.Select(st => (st.step, ExpAvg: st.exp_avg?.clone(), ExpAvgSq: st.exp_avg_sq?.clone())).ToList();
        _adam.step();
        var finite = _parameters.Select(p => p.isfinite().all())
            .Concat(states.Where(st => st.exp_avg_sq is not null).Select(st => st.exp_avg_sq.isfinite().all())).ToArray();
        if (stack(finite).all().item<bool>()) return true;
        for (int i = 0; i < _parameters.Count; i++) _parameters[i].copy_(before[i]);
        for (int i = 0; i < states.Count; i++)
        {
            states[i].step = saved[i].step;
            Restore(states[i].exp_avg, saved[i].ExpAvg);
            Restore(states[i].exp_avg_sq, saved[i].ExpAvgSq);
        }
        return false;

        static void Restore(Tensor? live, Tensor? copy)
        {
            if (live is null) return;
            if (copy is null) live.zero_();
            else live.copy_(copy);
        }
    }

    public IReadOnlyList<Tensor?> Gradients() => _parameters.Select(p => p.grad).ToArray();

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
        };
    }

    public void Dispose() => _adam.Dispose();
}
