using Superalign.Optimization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Superalign.Benchmarks;

/// <summary>
/// The cost of guarding the update (issue: "guard the update itself"): the library's flat AdamW, which computes the
/// update beside the state, checks that parameters and second moments are finite and then commits, against the same
/// arithmetic applied in place without a check (the update before the guard), on buffers of a fixture's size.
/// </summary>
internal sealed class UpdateGuard : IDisposable
{
    private readonly FlatAdamW _guarded;
    private readonly Tensor _p, _g, _m, _v;
    private long _t;
    private const double Lr = 1e-3, B1 = 0.9, B2 = 0.999, Eps = 1e-8, Wd = 0.01;

    public UpdateGuard(IStudent student)
    {
        // Copies of the student's parameters, so that this comparison owns its own flat buffer.
        var copies = student.Parameters().Select(p => new Parameter(p.detach().clone(), requires_grad: true)).ToList();
        _guarded = new FlatAdamW(copies, new AdamWSettings(B1, B2, Eps, Wd));
        long n = copies.Sum(p => p.numel());
        var g = new Generator(7);
        using (no_grad()) _guarded.Gradients()[0]!.copy_(randn([n], generator: g).mul_(1e-3));
        _p = randn([n], generator: g).DetachFromDisposeScope();
        _g = randn([n], generator: g).mul_(1e-3).DetachFromDisposeScope();
        _m = zeros(n).DetachFromDisposeScope();
        _v = zeros(n).DetachFromDisposeScope();
    }

    /// <summary>The library's guarded update.</summary>
    public void Guarded() => _guarded.Step(Lr);

    /// <summary>The unguarded in-place update (torch.optim.AdamW's arithmetic).</summary>
    public void InPlace()
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        _t++;
        _p.mul_(1 - Lr * Wd);
        _m.mul_(B1).add_(_g, alpha: 1 - B1);
        _v.mul_(B2).addcmul_(_g, _g, value: 1 - B2);
        var denom = _v.sqrt().div_(Math.Sqrt(1 - Math.Pow(B2, _t))).add_(Eps);
        _p.addcdiv_(_m, denom, value: -Lr / (1 - Math.Pow(B1, _t)));
    }

    public void Dispose()
    {
        _guarded.Dispose();
        foreach (var t in new[] { _p, _g, _m, _v }) t.Dispose();
    }
}
