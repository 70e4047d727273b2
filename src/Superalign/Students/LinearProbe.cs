using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Superalign.Students;

/// <summary>Options of a <see cref="LinearProbe"/>.</summary>
/// <param name="InputFeatures">Width of the raw inputs the feature map reads (at least 1).</param>
/// <param name="FeatureDimension">Width of the frozen features the head reads (at least 1).</param>
/// <param name="Classes">Number of classes (at least 2).</param>
/// <param name="ZeroInitHead">Start the head at zero (uniform predictions), as the weak-to-strong reference code does.</param>
/// <param name="Seed">Seed of the head's initial weights.</param>
public sealed record LinearProbeOptions(int InputFeatures, int FeatureDimension, int Classes, bool ZeroInitHead = false, long Seed = 0)
{
    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first option out of its range.</summary>
    public void Validate()
    {
        OptionCheck.AtLeast(InputFeatures, 1, nameof(InputFeatures));
        OptionCheck.AtLeast(FeatureDimension, 1, nameof(FeatureDimension));
        OptionCheck.AtLeast(Classes, 2, nameof(Classes));
    }
}

/// <summary>
/// A linear classification head over a frozen feature extractor (the "linear probe" of weak-to-strong experiments).
/// Only the head is a parameter of the student: features are computed under <c>no_grad</c>, the trunk is never
/// updated, and <see cref="TorchStudent.Clone"/>, <see cref="TorchStudent.Save"/> and <see cref="TorchStudent.Load"/>
/// copy or store the head alone while clones share the one trunk.
/// </summary>
/// <remarks>
/// The probe does not own the trunk: disposing the probe leaves it alive, and the trunk must outlive every probe (and
/// clone) that reads it. The trunk must produce features on the probe's device.
/// </remarks>
public sealed class LinearProbe : TorchStudent, IClassifierStudent
{
    private readonly Func<Tensor, Tensor> _featureMap;
    private readonly Linear _head;

    /// <summary>A probe over an arbitrary frozen feature map <c>[B, InputFeatures] → [B, FeatureDimension]</c>.</summary>
    /// <param name="featureMap">Computes the features; called under <c>no_grad</c>.</param>
    /// <param name="options">Dimensions and the head's initialisation; validated here.</param>
    /// <param name="device">Where the head lives; null selects <see cref="Devices.Default"/>.</param>
    /// <param name="name">Name used in reports; null derives one from the dimensions.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the exception names it).</exception>
    public LinearProbe(Func<Tensor, Tensor> featureMap, LinearProbeOptions options, Device? device = null, string? name = null)
        : this(featureMap ?? throw new ArgumentNullException(nameof(featureMap)), Checked(options), device ?? Devices.Default(), name)
    {
    }

    /// <summary>
    /// A probe over a trunk module, which is frozen here: its parameters stop requiring gradients and it is put in
    /// evaluation mode for good (the probe's <see cref="TorchStudent.SetTraining"/> affects the head only).
    /// </summary>
    /// <param name="trunk">The feature extractor; it stays where it is, so place it on the probe's device.</param>
    /// <param name="options">Dimensions and the head's initialisation; validated here.</param>
    /// <param name="device">Where the head lives; null selects <see cref="Devices.Default"/>.</param>
    /// <param name="name">Name used in reports; null derives one from the dimensions.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the exception names it).</exception>
    public LinearProbe(nn.Module<Tensor, Tensor> trunk, LinearProbeOptions options, Device? device = null, string? name = null)
        : this(Freeze(trunk, options), options, device, name)
    {
    }

    private LinearProbe(Func<Tensor, Tensor> featureMap, (LinearProbeOptions Options, Linear Head) built, Device device, string? name)
        : base(name ?? $"probe[{built.Options.FeatureDimension}-{built.Options.Classes}]", built.Head, device)
    {
        _featureMap = featureMap;
        _head = built.Head;
        Options = built.Options;
    }

    private static (LinearProbeOptions, Linear) Checked(LinearProbeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return (options, SeededInit.Build(options.Seed, g =>
        {
            var head = nn.Linear(options.FeatureDimension, options.Classes);
            if (options.ZeroInitHead) SeededInit.Zero(head);
            else SeededInit.Default(head, g);
            return head;
        }));
    }

    private static Func<Tensor, Tensor> Freeze(nn.Module<Tensor, Tensor> trunk, LinearProbeOptions options)
    {
        ArgumentNullException.ThrowIfNull(trunk);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate(); // before touching the trunk
        foreach (var p in trunk.parameters()) p.requires_grad = false;
        trunk.eval();
        return trunk.call;
    }

    /// <summary>The options the probe was built with.</summary>
    public LinearProbeOptions Options { get; }

    /// <inheritdoc />
    public int InputFeatures => Options.InputFeatures;

    /// <inheritdoc />
    public int Classes => Options.Classes;

    /// <summary>The frozen features <c>[B, FeatureDimension]</c> of inputs <c>[B, InputFeatures]</c>, without gradient.</summary>
    /// <exception cref="InvalidOperationException">The feature map returned a tensor of the wrong shape.</exception>
    public Tensor Features(Tensor features)
    {
        InputCheck.Features(features, InputFeatures, nameof(features));
        Tensor result;
        using (no_grad()) result = _featureMap(features);
        if (result.dim() != 2 || result.shape[0] != features.shape[0] || result.shape[1] != Options.FeatureDimension)
            throw new InvalidOperationException(
                $"The feature map must return [B, {Options.FeatureDimension}] for B = {features.shape[0]}; got [{string.Join(", ", result.shape)}].");
        return result;
    }

    /// <inheritdoc />
    public Tensor ClassLogits(Tensor features) => _head.call(Features(features));

    /// <summary>Class logits <c>[B, 1, Classes]</c> for a classification batch (inputs <c>[B, InputFeatures]</c>).</summary>
    public override Tensor Logits(ResponseBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return ClassLogits(batch.Inputs).unsqueeze(1);
    }

    /// <inheritdoc />
    protected override TorchStudent CreateSibling() => new LinearProbe(_featureMap, Options, Device, Name);
}
