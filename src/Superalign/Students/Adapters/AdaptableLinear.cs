using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Superalign.Students.Adapters;

/// <summary>
/// An affine projection <c>y = x·Wᵀ + b</c> whose weight is stored either as <c>nn.Linear</c> does (<c>[out, in]</c>)
/// or, with <c>fanInFanOut</c>, as GPT-2's Conv1D does (<c>[in, out]</c>, <c>y = x·W + b</c>), so a checkpoint's
/// tensors load without transposing. The pretrained students build every projection from it, which is where
/// adapters (LoRA) attach.
/// </summary>
/// <remarks>Parameters are named <c>weight</c> and <c>bias</c>, as in PyTorch, so state-dict keys match the
/// checkpoint's. They start at zero; the loaders overwrite them.</remarks>
public class AdaptableLinear : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly Parameter? bias;

    /// <summary>A projection from <paramref name="inFeatures"/> to <paramref name="outFeatures"/>.</summary>
    /// <param name="inFeatures">Input width (at least 1).</param>
    /// <param name="outFeatures">Output width (at least 1).</param>
    /// <param name="hasBias">Whether the projection has a bias.</param>
    /// <param name="fanInFanOut">Store the weight as <c>[in, out]</c> (GPT-2 Conv1D) instead of <c>[out, in]</c>.</param>
    /// <param name="name">Module name.</param>
    public AdaptableLinear(long inFeatures, long outFeatures, bool hasBias, bool fanInFanOut = false, string name = nameof(AdaptableLinear))
        : base(name)
    {
        if (inFeatures < 1) throw new ArgumentOutOfRangeException(nameof(inFeatures), inFeatures, $"{nameof(inFeatures)} must be at least 1; got {inFeatures}.");
        if (outFeatures < 1) throw new ArgumentOutOfRangeException(nameof(outFeatures), outFeatures, $"{nameof(outFeatures)} must be at least 1; got {outFeatures}.");
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        FanInFanOut = fanInFanOut;
        weight = new Parameter(zeros(fanInFanOut ? new[] { inFeatures, outFeatures } : new[] { outFeatures, inFeatures }));
        weight.DetachFromDisposeScope();
        if (hasBias)
        {
            bias = new Parameter(zeros(outFeatures));
            bias.DetachFromDisposeScope();
        }
        RegisterComponents();
    }

    /// <summary>Input width.</summary>
    public long InFeatures { get; }

    /// <summary>Output width.</summary>
    public long OutFeatures { get; }

    /// <summary>Whether <see cref="Weight"/> is stored <c>[in, out]</c> (GPT-2 Conv1D).</summary>
    public bool FanInFanOut { get; }

    /// <summary>The weight, <c>[out, in]</c>, or <c>[in, out]</c> when <see cref="FanInFanOut"/>.</summary>
    public Parameter Weight => weight;

    /// <summary>The bias <c>[out]</c>, or null.</summary>
    public Parameter? Bias => bias;

    /// <summary>The base projection alone, without any adapter.</summary>
    protected Tensor BaseForward(Tensor x) =>
        FanInFanOut
            ? (bias is null ? x.matmul(weight) : torch.addmm(bias, x.reshape(-1, InFeatures), weight, 1, 1).view(Shape(x)))
            : nn.functional.linear(x, weight, bias);

    private long[] Shape(Tensor x)
    {
        var shape = x.shape.ToArray();
        shape[^1] = OutFeatures;
        return shape;
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x) => BaseForward(x);
}
