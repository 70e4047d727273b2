using Superalign.Data;
using Superalign.Objectives;
using TorchSharp;
using static TorchSharp.torch;

namespace Superalign.Optimization;

/// <summary>
/// The per-micro-batch side of a step: the forward pass of the competence and conformity objectives on a batch, their
/// metrics, the backward pass of the weighted loss, and the read-back of losses and metrics into <see cref="StepSums"/>
/// (one host copy per micro-batch), with the scalar and finiteness checks every value the optimizer reads goes through.
/// </summary>
internal sealed class StepLosses(IStudent student, ICompetenceObjective? competence, IConformityObjective? conformity, IReferencePolicy? reference)
{
    /// <summary>
    /// Runs the step's micro-batches of the objectives whose source is given and backpropagates
    /// Σ (w_c·L_c + w_f·L_f) / N into the gradients, with the gradient weights given (the schedule's weights, or 1 and 0
    /// when the gradients are kept apart); losses and metrics are added to <paramref name="sums"/> with the plan's weights.
    /// </summary>
    public void Accumulate(StepSums sums, IBatchSource<SupervisedBatch>? competenceData, IBatchSource<PreferenceBatch>? conformityData,
        double competenceGradientWeight, double conformityGradientWeight)
    {
        int micro = sums.Micro;
        var plan = sums.Plan;
        for (int m = 0; m < micro; m++)
        {
            using var microScope = NewDisposeScope();
            Tensor? loss = null;
            if (competenceData is not null)
            {
                var (lc, metrics) = CompetenceForward(competenceData.Next(), sums.Progress);
                double value = Read(lc, metrics, sums, "competence loss");
                sums.Competence += value / micro;
                sums.Total += plan.CompetenceWeight * value / micro;
                loss = Scaled(lc, competenceGradientWeight / micro);
            }
            if (conformityData is not null)
            {
                var (lf, metrics) = ConformityForward(conformityData.Next());
                double value = Read(lf, metrics, sums, "conformity loss");
                sums.Conformity += value / micro;
                sums.Total += plan.ConformityWeight * value / micro;
                var weighted = Scaled(lf, conformityGradientWeight / micro);
                loss = loss is null ? weighted : loss + weighted;
            }
            loss!.backward();
        }
    }

    /// <summary>The competence objective's loss on <paramref name="batch"/> and its metrics (accuracy on the hard targets).</summary>
    public (Tensor Loss, Dictionary<string, Tensor> Metrics) CompetenceForward(SupervisedBatch batch, TrainingProgress progress)
    {
        ArgumentNullException.ThrowIfNull(batch);
        batch = batch.To(student.Device);
        long maxTarget = BatchCheck.CheckCompetence(student, batch); // before any native code reads the batch
        var responses = batch.Responses;
        var logits = student.Logits(responses);
        CheckLogits(logits, responses);
        BatchCheck.TargetsBelow(responses, "competence batch ", maxTarget, logits.shape[2]);
        var soft = batch.SoftTargets is { } s && s.dim() == 2 ? s.unsqueeze(1) : batch.SoftTargets;
        if (competence!.RequiresSoftTargets && soft is null)
            throw new ArgumentException($"The competence objective '{competence.Name}' trains on soft labels, but the batch has no SoftTargets.", nameof(batch));
        var loss = competence.Loss(new CompetenceInput(logits, responses.Targets, responses.Mask, soft, progress));
        using var _ = no_grad();
        var hits = (logits.argmax(-1) == responses.Targets).to_type(ScalarType.Float32) * responses.Mask;
        var metrics = new Dictionary<string, Tensor>(StringComparer.Ordinal)
        {
            [MetricNames.CompetenceAccuracy] = hits.sum() / responses.Mask.sum().clamp_min(1),
        };
        return (loss, metrics);
    }

    /// <summary>The conformity objective's loss on <paramref name="batch"/> and its TRL-named reward and log-prob metrics.</summary>
    public (Tensor Loss, Dictionary<string, Tensor> Metrics) ConformityForward(PreferenceBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        batch = batch.To(student.Device);
        var (maxChosen, maxRejected) = BatchCheck.CheckPreference(student, batch); // before any native code reads the batch
        var (pc, pr) = LogProbs.Pair(student, batch, logits =>
        {
            BatchCheck.TargetsBelow(batch.Chosen, "preference batch Chosen.", maxChosen, logits.shape[^1]);
            BatchCheck.TargetsBelow(batch.Rejected, "preference batch Rejected.", maxRejected, logits.shape[^1]);
        });
        Tensor? rc = null, rr = null;
        if (batch.HasCachedReference && (reference is null || reference.IsStatic))
        {
            (rc, rr) = (batch.ReferenceChosen!, batch.ReferenceRejected!);
        }
        else if (reference is not null && (conformity!.RequiresReference || batch.HasCachedReference))
        {
            (rc, rr) = reference.LogProbs(batch);
        }
        else if (conformity!.RequiresReference)
        {
            throw new InvalidOperationException(
                $"The conformity objective '{conformity.Name}' needs reference log-probs: pass a reference policy to the optimizer or cache them with PreferenceDataset.WithReferenceLogProbs.");
        }
        var logps = new PreferenceLogProbs(pc, pr, rc, rr,
            batch.Chosen.Lengths().clamp_min(1), batch.Rejected.Lengths().clamp_min(1));
        var result = conformity!.Compute(logps);
        using var _ = no_grad();
        var chosen = result.ChosenRewards.detach();
        var rejected = result.RejectedRewards.detach();
        var metrics = new Dictionary<string, Tensor>(StringComparer.Ordinal)
        {
            [MetricNames.RewardsChosen] = chosen.mean(),
            [MetricNames.RewardsRejected] = rejected.mean(),
            [MetricNames.RewardsMargins] = (chosen - rejected).mean(),
            [MetricNames.RewardsAccuracies] = (chosen > rejected).to_type(ScalarType.Float32).mean(),
            [MetricNames.LogpsChosen] = pc.detach().mean(),
            [MetricNames.LogpsRejected] = pr.detach().mean(),
        };
        return (result.Loss, metrics);
    }

    /// <summary>The value of a loss that must be a finite scalar; throws <see cref="NonFiniteLossException"/> otherwise.</summary>
    public static double Check(Tensor loss, long step, TrainingPhase phase, string what) =>
        Check(RequireScalar(loss, what).ToDouble(), step, phase, what);

    /// <summary><paramref name="value"/> when finite; throws <see cref="NonFiniteLossException"/> otherwise.</summary>
    public static double Check(double value, long step, TrainingPhase phase, string what) =>
        double.IsFinite(value) ? value : throw new NonFiniteLossException(step, phase, what, value);

    /// <summary>The value of a loss that must be a scalar (not checked for finiteness).</summary>
    public static double ScalarOf(Tensor loss, string what) => RequireScalar(loss, what).ToDouble();

    // Every loss the optimizer reads must be one value; the message names which loss was not.
    private static Tensor RequireScalar(Tensor loss, string what) =>
        loss.numel() == 1 ? loss : throw new InvalidOperationException($"The {what} must be a scalar; got shape [{string.Join(", ", loss.shape)}].");

    private static void CheckLogits(Tensor logits, ResponseBatch batch)
    {
        if (logits.dim() != 3 || logits.shape[0] != batch.Targets.shape[0] || logits.shape[1] != batch.Targets.shape[1])
            throw new InvalidOperationException(
                $"The student returned logits of shape [{string.Join(", ", logits.shape)}]; expected [{batch.Targets.shape[0]}, {batch.Targets.shape[1]}, V] to match the targets.");
    }

    // A factor of exactly 1 adds no node to the graph (the common case: weight 1, no accumulation).
    private static Tensor Scaled(Tensor loss, double factor) => factor == 1 ? loss : loss * factor;

    /// <summary>
    /// The micro-batch's loss value (checked: a finite scalar) and its metrics, added to <paramref name="sums"/>, brought
    /// to the host in one copy: on small models every tensor call and read-back is a visible share of the step.
    /// </summary>
    private static double Read(Tensor loss, Dictionary<string, Tensor> metrics, StepSums sums, string what)
    {
        var names = metrics.Keys.ToArray();
        var parts = new Tensor[names.Length + 1];
        var detached = RequireScalar(loss, what).detach();
        parts[0] = detached.dim() == 0 ? detached : detached.reshape(Array.Empty<long>());
        for (int i = 0; i < names.Length; i++)
        {
            var m = metrics[names[i]];
            parts[i + 1] = m.dim() == 0 ? m : m.reshape(Array.Empty<long>());
        }
        var dtype = parts[0].dtype;
        if (dtype is not (ScalarType.Float32 or ScalarType.Float64) || parts.Any(p => p.dtype != dtype))
        {
            for (int i = 0; i < parts.Length; i++) parts[i] = parts[i].to_type(ScalarType.Float64);
            dtype = ScalarType.Float64;
        }
        using var host = stack(parts).cpu();
        double[] values = dtype == ScalarType.Float32 ? host.data<float>().Select(v => (double)v).ToArray() : host.data<double>().ToArray();
        double value = Check(values[0], sums.Step, sums.Plan.Phase, what);
        for (int i = 0; i < names.Length; i++)
            sums.Metrics[names[i]] = sums.Metrics.GetValueOrDefault(names[i]) + values[i + 1] / sums.Micro;
        return value;
    }
}

/// <summary>What a step adds up over its micro-batches: the plan's weighted loss, each objective's loss, the metrics.</summary>
internal sealed class StepSums(long step, PhasePlan plan, TrainingProgress progress, int micro)
{
    public long Step { get; } = step;
    public PhasePlan Plan { get; } = plan;
    public TrainingProgress Progress { get; } = progress;
    public int Micro { get; } = micro;
    public double Total { get; set; }
    public double Competence { get; set; }
    public double Conformity { get; set; }
    public Dictionary<string, double> Metrics { get; } = new(StringComparer.Ordinal);
}
