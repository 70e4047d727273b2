using static TorchSharp.torch;

namespace Superalign.Supervision;

/// <summary>
/// A trained model as supervisor — the weak model of the weak-to-strong protocol, or an accepted student that becomes
/// the next round's teacher. Its soft labels are the softmax of its class logits, optionally at a temperature.
/// </summary>
/// <remarks>
/// Labeling runs without gradients and in evaluation mode (no dropout); the model's training mode
/// (<see cref="IStudent.IsTraining"/>) is restored afterwards.
/// Features on another device than the model are moved to it, and the labels are returned on the features' device.
/// The supervisor does not own the model: dispose the model yourself.
/// </remarks>
public sealed class ModelSupervisor : ILabelSupervisor
{
    /// <summary>Wraps <paramref name="model"/>.</summary>
    /// <param name="model">A trained classifier.</param>
    /// <param name="temperature">Softmax temperature (finite, greater than 0): above 1 softens the labels, below 1 sharpens them.</param>
    /// <param name="name">Name used in reports; null uses the model's name.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="temperature"/> is not finite and positive.</exception>
    public ModelSupervisor(IClassifierStudent model, double temperature = 1.0, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        SupervisionCheck.Temperature(temperature, nameof(temperature), allowZero: false);
        Model = model;
        Temperature = temperature;
        Name = name ?? model.Name;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>The wrapped classifier.</summary>
    public IClassifierStudent Model { get; }

    /// <summary>The softmax temperature.</summary>
    public double Temperature { get; }

    /// <summary>Soft labels <c>softmax(logits / Temperature)</c>, <c>[B, Classes]</c>, on the device of <paramref name="features"/>.</summary>
    /// <param name="features">Features <c>[B, Model.InputFeatures]</c>.</param>
    /// <exception cref="ArgumentException"><paramref name="features"/> has the wrong shape.</exception>
    public Tensor Label(Tensor features)
    {
        SupervisionCheck.Features(features, nameof(features), Model.InputFeatures);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var mode = EvaluationMode.Enter(Model);
        var input = features.IsOn(Model.Device) ? features : features.to(Model.Device);
        var logits = Model.ClassLogits(input);
        if (Temperature != 1.0) logits = logits / Temperature;
        var probabilities = logits.softmax(1);
        if (!probabilities.IsOn(features.device)) probabilities = probabilities.to(features.device);
        return probabilities.MoveToOuterDisposeScope();
    }
}
