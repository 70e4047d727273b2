using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Superalign.Students.Adapters;

/// <summary>
/// One factor of a LoRA adapter (<c>lora_A</c> or <c>lora_B</c>): a bias-free projection whose only parameter is named
/// <c>weight</c>, <c>[out, in]</c> as in <c>nn.Linear</c>, so that the adapted module's parameter names end in
/// <c>lora_A.weight</c> / <c>lora_B.weight</c> as PEFT's do. Created at zero, without touching any random stream.
/// </summary>
internal sealed class LoraFactor : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;

    public LoraFactor(string name, long outFeatures, long inFeatures, ScalarType dtype, Device device)
        : base(name)
    {
        weight = new Parameter(zeros(new[] { outFeatures, inFeatures }, dtype: dtype, device: device));
        weight.DetachFromDisposeScope();
        RegisterComponents();
    }

    public Parameter Weight => weight;

    public override Tensor forward(Tensor x) => nn.functional.linear(x, weight);
}
