using static TorchSharp.torch;

namespace Superalign.Objectives.Competence;

/// <summary>
/// <c>reweight</c>: soft cross-entropy to the weak labels with per-example weights from
/// <see cref="LearningToReweight"/> (Ren et al. 2018), computed at every step against a small trusted set with
/// ground-truth labels: the loss is <c>Σᵢ wᵢ·ℓᵢ</c> with <c>ℓᵢ = −Σ_c yᵢc·log pᵢc</c> and the weights detached.
/// </summary>
/// <remarks>
/// <para>Unlike the other competence objectives it needs the student (for its parameters and its logits on the
/// trusted set), so it is built for one student and cannot come from <see cref="CompetenceObjectives.Create"/>.
/// Every step uses the whole trusted set (it is meant to be small: tens to a few hundred examples) with mean
/// cross-entropy to its hard labels; each step costs one extra forward pass on the trusted set and about three
/// backward passes.</para>
/// <para>Language-model batches work too when <c>T &gt; 1</c>: an example's loss is its mean over scored positions; the
/// trusted loss, however, is computed with <see cref="IClassifierStudent.ClassLogits"/>, so the student must be a
/// classifier.</para>
/// </remarks>
public sealed class LearningToReweightObjective : ICompetenceObjective
{
    private readonly IClassifierStudent _student;
    private readonly Tensor _trustedFeatures;
    private readonly Tensor _trustedLabels;

    /// <summary>Creates the objective for <paramref name="student"/>.</summary>
    /// <param name="student">The student being trained (the same instance the optimizer updates).</param>
    /// <param name="trustedFeatures">Trusted features <c>[N, InputFeatures]</c>, N ≥ 1.</param>
    /// <param name="trustedLabels">Their ground-truth classes <c>[N]</c> (integer).</param>
    /// <param name="virtualStepSize">α of the virtual SGD step (scales only the recorded meta-gradients).</param>
    /// <exception cref="ArgumentException">The trusted set is misshapen or empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="virtualStepSize"/> is not finite and positive.</exception>
    public LearningToReweightObjective(IClassifierStudent student, Tensor trustedFeatures, Tensor trustedLabels, double virtualStepSize = 1)
    {
        _student = student ?? throw new ArgumentNullException(nameof(student));
        ArgumentNullException.ThrowIfNull(trustedFeatures);
        ArgumentNullException.ThrowIfNull(trustedLabels);
        if (trustedFeatures.dim() != 2 || trustedFeatures.shape[0] < 1 || trustedFeatures.shape[1] != student.InputFeatures)
            throw new ArgumentException($"{nameof(trustedFeatures)} must have shape [N >= 1, {student.InputFeatures}]; got {CompetenceTensors.Shape(trustedFeatures)}.", nameof(trustedFeatures));
        if (trustedLabels.dim() != 1 || trustedLabels.shape[0] != trustedFeatures.shape[0] || trustedLabels.is_floating_point())
            throw new ArgumentException($"{nameof(trustedLabels)} must be integer classes of shape [{trustedFeatures.shape[0]}]; got {trustedLabels.dtype} {CompetenceTensors.Shape(trustedLabels)}.", nameof(trustedLabels));
        if (!(virtualStepSize > 0) || !double.IsFinite(virtualStepSize))
            throw new ArgumentOutOfRangeException(nameof(virtualStepSize), virtualStepSize, $"{nameof(virtualStepSize)} must be finite and > 0.");
        _trustedFeatures = trustedFeatures.detach().to(student.Device);
        _trustedLabels = trustedLabels.to_type(ScalarType.Int64).to(student.Device);
        VirtualStepSize = virtualStepSize;
    }

    /// <summary>α of the virtual SGD step.</summary>
    public double VirtualStepSize { get; }

    /// <summary>Number of trusted examples.</summary>
    public long TrustedExamples => _trustedLabels.shape[0];

    /// <summary>The weights of the most recent <see cref="Loss"/> call, on the CPU (null before the first).</summary>
    public double[]? LastWeights { get; private set; }

    /// <inheritdoc />
    public string Name => "reweight";

    /// <inheritdoc />
    public bool RequiresSoftTargets => true;

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The input is misshapen or has no soft targets.</exception>
    public Tensor Loss(CompetenceInput input)
    {
        var x = CompetenceTensors.Prepare(input, Name, needsSoftTargets: true);
        using var scope = NewDisposeScope();
        var perPosition = CompetenceTensors.SoftCrossEntropy(x.SoftTargets!, x.LogProbs);
        var perExample = (perPosition * x.Mask).sum(1) / x.Mask.sum(1).clamp_min(1e-12);
        var trustedLogits = _student.ClassLogits(_trustedFeatures);
        var trusted = nn.functional.cross_entropy(trustedLogits.to_type(x.LogProbs.dtype), _trustedLabels);
        var parameters = _student.Parameters().Cast<Tensor>().ToList();
        var reweighting = LearningToReweight.Compute(parameters, perExample, trusted, VirtualStepSize);
        LastWeights = reweighting.Weights.to_type(ScalarType.Float64).cpu().data<double>().ToArray();
        return (reweighting.Weights.to_type(perExample.dtype) * perExample).sum().MoveToOuterDisposeScope();
    }
}
