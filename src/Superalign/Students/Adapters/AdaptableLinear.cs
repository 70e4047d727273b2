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
/// <remarks>
/// <para>Parameters are named <c>weight</c> and <c>bias</c>, as in PyTorch, so state-dict keys match the
/// checkpoint's. They start at zero; the loaders overwrite them.</para>
/// <para>A LoRA adapter (<see cref="AttachLora"/>) adds the submodules <c>lora_A</c> (weight <c>[r, in]</c>) and
/// <c>lora_B</c> (weight <c>[out, r]</c>), so its parameters appear in <c>parameters()</c> and
/// <c>named_parameters()</c> as <c>…lora_A.weight</c> / <c>…lora_B.weight</c>, the names PEFT saves. The forward is
/// then <c>y = base(x) + (dropout(x)·Aᵀ·Bᵀ)·(alpha / r)</c>; with the adapter disabled it is the base projection's
/// output bit for bit. Use <see cref="Lora.Apply"/> to adapt a whole student.</para>
/// </remarks>
public class AdaptableLinear : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly Parameter? bias;
    // Not a Module-typed field, so RegisterComponents ignores it; the factors are registered by AttachLora.
    private LoraState? _lora;
    private readonly string _name;

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
        _name = name;
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

    /// <summary>Whether a LoRA adapter is attached.</summary>
    public bool HasAdapter => _lora is not null;

    /// <summary>The adapter's rank <c>r</c>, or 0 without an adapter.</summary>
    public int LoraRank => _lora?.Rank ?? 0;

    /// <summary>The adapter's <c>lora_alpha</c>, or 0 without an adapter.</summary>
    public double LoraAlpha => _lora?.Alpha ?? 0;

    /// <summary>The adapter's dropout probability on its input, or 0 without an adapter.</summary>
    public double LoraDropout => _lora?.Dropout ?? 0;

    /// <summary>The scale <c>lora_alpha / r</c> of the adapter's update, or 0 without an adapter.</summary>
    public double LoraScaling => _lora is null ? 0 : _lora.Alpha / _lora.Rank;

    /// <summary>The adapter's <c>lora_A.weight</c> <c>[r, in]</c>, or null.</summary>
    public Parameter? LoraA => _lora?.A.Weight;

    /// <summary>The adapter's <c>lora_B.weight</c> <c>[out, r]</c>, or null.</summary>
    public Parameter? LoraB => _lora?.B.Weight;

    /// <summary>Whether the adapter's update is merged into <see cref="Weight"/> (<see cref="MergeLora"/>).</summary>
    public bool IsMerged => _lora?.Merged ?? false;

    /// <summary>
    /// Whether the forward adds the adapter's update (true after <see cref="AttachLora"/>). Disabled, the forward is
    /// the base projection's output bit for bit.
    /// </summary>
    /// <exception cref="InvalidOperationException">Set while no adapter is attached, or disabled while merged (unmerge first).</exception>
    public bool AdapterEnabled
    {
        get => _lora?.Enabled ?? false;
        set
        {
            var lora = _lora ?? throw new InvalidOperationException($"No LoRA adapter is attached to '{_name}'.");
            if (!value && lora.Merged)
                throw new InvalidOperationException($"The LoRA adapter of '{_name}' is merged into its weight: unmerge it before disabling it (a disabled adapter must give the base output exactly).");
            lora.Enabled = value;
        }
    }

    /// <summary>
    /// Attaches a LoRA adapter of rank <paramref name="rank"/>: <c>lora_A</c> Kaiming-uniform (PEFT's
    /// <c>kaiming_uniform_(a = √5)</c>, i.e. uniform in ±1/√in) drawn from <paramref name="generator"/>, <c>lora_B</c>
    /// zero, so the adapted projection starts equal to the base. The factors take <see cref="Weight"/>'s dtype and device
    /// and require gradients; the base parameters are left as they are (<see cref="Lora.Apply"/> freezes them).
    /// </summary>
    /// <param name="rank">The rank <c>r</c> (at least 1).</param>
    /// <param name="alpha"><c>lora_alpha</c> (positive): the update is scaled by <c>alpha / r</c>.</param>
    /// <param name="dropout">Dropout probability on the adapter's input in training mode, in [0, 1).</param>
    /// <param name="generator">The generator <c>lora_A</c> is drawn from (a CPU generator).</param>
    /// <exception cref="InvalidOperationException">An adapter is already attached.</exception>
    public void AttachLora(int rank, double alpha, double dropout, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(generator);
        if (rank < 1) throw new ArgumentOutOfRangeException(nameof(rank), rank, $"{nameof(rank)} must be at least 1; got {rank}.");
        if (!(alpha > 0) || double.IsInfinity(alpha)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, $"{nameof(alpha)} must be positive and finite; got {alpha}.");
        if (!(dropout >= 0 && dropout < 1)) throw new ArgumentOutOfRangeException(nameof(dropout), dropout, $"{nameof(dropout)} must be in [0, 1); got {dropout}.");
        if (_lora is not null) throw new InvalidOperationException($"'{_name}' already has a LoRA adapter: detach it first.");
        var lora = NewState(rank, alpha, dropout);
        using (no_grad())
        {
            double bound = 1.0 / Math.Sqrt(InFeatures);
            using var draw = empty(new[] { (long)rank, InFeatures }, dtype: ScalarType.Float32).uniform_(-bound, bound, generator);
            lora.A.Weight.copy_(draw);
        }
        Register(lora);
    }

    /// <summary>
    /// Attaches an adapter whose factors are zero (to be overwritten, e.g. by a copy or a saved adapter); draws nothing.
    /// </summary>
    internal void AttachLoraUninitialised(int rank, double alpha, double dropout)
    {
        if (_lora is not null) throw new InvalidOperationException($"'{_name}' already has a LoRA adapter: detach it first.");
        Register(NewState(rank, alpha, dropout));
    }

    private LoraState NewState(int rank, double alpha, double dropout) =>
        new(new LoraFactor("lora_A", rank, InFeatures, weight.dtype, weight.device),
            new LoraFactor("lora_B", OutFeatures, rank, weight.dtype, weight.device),
            rank, alpha, dropout);

    private void Register(LoraState lora)
    {
        register_module("lora_A", lora.A);
        register_module("lora_B", lora.B);
        lora.A.train(training);
        lora.B.train(training);
        _lora = lora;
    }

    /// <summary>
    /// Removes the adapter (unmerging it first when merged, so <see cref="Weight"/> is the base weight again) and
    /// disposes its parameters. Does nothing without an adapter.
    /// </summary>
    public void DetachLora()
    {
        if (_lora is not { } lora) return;
        if (lora.Merged) UnmergeLora();
        register_module("lora_A", null!);
        register_module("lora_B", null!);
        _lora = null;
        lora.A.Dispose();
        lora.B.Dispose();
    }

    /// <summary>
    /// Adds the adapter's update to the weight, <c>W += (alpha / r)·B·A</c> (transposed when <see cref="FanInFanOut"/>),
    /// so the forward needs no extra matmuls; the output equals the unmerged one up to rounding. Idempotent.
    /// </summary>
    /// <exception cref="InvalidOperationException">No adapter is attached, or it is disabled.</exception>
    public void MergeLora()
    {
        var lora = _lora ?? throw new InvalidOperationException($"No LoRA adapter is attached to '{_name}'.");
        if (lora.Merged) return;
        if (!lora.Enabled) throw new InvalidOperationException($"The LoRA adapter of '{_name}' is disabled: enable it before merging it.");
        using var _ = no_grad();
        using var delta = Delta(lora);
        weight.add_(delta);
        lora.Merged = true;
    }

    /// <summary>Subtracts the merged update again, <c>W -= (alpha / r)·B·A</c>; does nothing when not merged.</summary>
    public void UnmergeLora()
    {
        if (_lora is not { Merged: true } lora) return;
        using var _ = no_grad();
        using var delta = Delta(lora);
        weight.sub_(delta);
        lora.Merged = false;
    }

    /// <summary>Marks a copied weight as already holding the merged update (a clone of a merged module).</summary>
    internal void MarkMerged(bool merged)
    {
        var lora = _lora ?? throw new InvalidOperationException($"No LoRA adapter is attached to '{_name}'.");
        lora.Merged = merged;
    }

    /// <summary>The dense update <c>(alpha / r)·B·A</c> in the weight's layout.</summary>
    private Tensor Delta(LoraState lora)
    {
        using var scope = NewDisposeScope();
        var delta = lora.B.Weight.matmul(lora.A.Weight).mul(lora.Alpha / lora.Rank);
        return (FanInFanOut ? delta.t().contiguous() : delta).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        if (_lora is not { Enabled: true, Merged: false } lora) return BaseForward(x);
        var input = lora.Dropout > 0 && training ? nn.functional.dropout(x, lora.Dropout, true) : x;
        return BaseForward(x).add(lora.B.call(lora.A.call(input)).mul(lora.Alpha / lora.Rank));
    }

    private sealed class LoraState(LoraFactor a, LoraFactor b, int rank, double alpha, double dropout)
    {
        public LoraFactor A { get; } = a;
        public LoraFactor B { get; } = b;
        public int Rank { get; } = rank;
        public double Alpha { get; } = alpha;
        public double Dropout { get; } = dropout;
        public bool Enabled { get; set; } = true;
        public bool Merged { get; set; }
    }
}
