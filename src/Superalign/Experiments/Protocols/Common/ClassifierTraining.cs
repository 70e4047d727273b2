using Microsoft.Extensions.Logging;
using Superalign.Data;
using Superalign.Experiments.Metrics;
using Superalign.Experiments.Tasks;
using Superalign.Optimization;
using static TorchSharp.torch;

namespace Superalign.Experiments.Protocols;

/// <summary>A classifier's predictions on a labeled set, on the CPU: what the metrics of the protocols need.</summary>
/// <param name="Predictions">Argmax class per example.</param>
/// <param name="Correct">1 where the prediction equals the label, else 0 (what a paired bootstrap resamples).</param>
/// <param name="Accuracy">Mean of <paramref name="Correct"/>.</param>
/// <param name="Ece">Expected calibration error (10 equal-width bins).</param>
internal sealed record ClassifierEvaluation(int[] Predictions, double[] Correct, double Accuracy, double Ece);

/// <summary>Training and evaluation of classifier students, as the weak-to-strong protocol does them.</summary>
internal static class ClassifierTraining
{
    /// <summary>
    /// Trains <paramref name="model"/> for <paramref name="steps"/> AdamW updates (linear warm-up over
    /// <paramref name="warmupSteps"/>, then cosine decay to zero; competence only) on the batches of
    /// <paramref name="batches"/>, then leaves it in evaluation mode.
    /// </summary>
    /// <returns>The updates the optimizer made (what a budget counts).</returns>
    public static int Train(IClassifierStudent model, IBatchSource<SupervisedBatch> batches, ICompetenceObjective objective,
        int steps, double learningRate, CancellationToken ct, int warmupSteps = 0)
    {
        var options = new AlternatingOptimizerOptions
        {
            TotalSteps = steps,
            Schedule = AlternationSchedules.CompetenceOnly(),
            LearningRate = learningRate,
            WarmupSteps = warmupSteps,
            Decay = LearningRateDecay.Cosine,
            LogEvery = 0,
        };
        using var optimizer = new AlternatingOptimizer(model, objective, null, options);
        optimizer.Train(batches, null, null, ct);
        model.SetTraining(false);
        return checked((int)optimizer.StepsDone);
    }

    /// <summary>Trains on features with hard labels and optional soft labels, in shuffled epochs seeded by <paramref name="seed"/>.</summary>
    /// <returns>The updates the optimizer made.</returns>
    public static int Train(IClassifierStudent model, Tensor features, Tensor labels, Tensor? softLabels, ICompetenceObjective objective,
        int steps, double learningRate, int batchSize, int seed, CancellationToken ct) =>
        Train(model, SupervisedDataset.ForClassification(features, labels, softLabels).Batches(batchSize, seed), objective, steps, learningRate, ct);

    /// <summary>The model's soft labels (softmax of its logits) on <paramref name="features"/>, without gradient.</summary>
    public static Tensor Probabilities(IClassifierStudent model, Tensor features)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        model.SetTraining(false);
        return model.ClassLogits(features.to(model.Device)).softmax(1).to(features.device).MoveToOuterDisposeScope();
    }

    /// <summary>Evaluates the model on a labeled set.</summary>
    public static ClassifierEvaluation Evaluate(IClassifierStudent model, Tensor features, Tensor labels)
    {
        using var scope = NewDisposeScope();
        return Score(Probabilities(model, features), labels);
    }

    /// <summary>Scores probabilities <c>[N, C]</c> against labels <c>[N]</c>.</summary>
    public static ClassifierEvaluation Score(Tensor probabilities, Tensor labels)
    {
        var predictions = ClassificationAccuracy.Predictions(probabilities);
        var truth = ClassificationAccuracy.Predictions(labels);
        var correct = ClassificationAccuracy.Correct(predictions, truth);
        return new ClassifierEvaluation(predictions, correct, correct.Average(), Calibration.ExpectedCalibrationError(probabilities, labels));
    }

    /// <summary>Mean with a t-interval over the finite values, or null when there are none.</summary>
    public static SummaryStatistics? SummaryOrNull(IEnumerable<double> values, double level)
    {
        var finite = values.Where(double.IsFinite).ToArray();
        return finite.Length == 0 ? null : MeanSummary.Of(finite, level);
    }

    /// <summary>
    /// The weak-to-strong split of a training table: a seeded 50/50 split (<see cref="WeakToStrong.Split"/>) into half A
    /// (the weak models' ground truth) and half B (the students' and ceilings' inputs), on the table's device.
    /// </summary>
    public static (Tensor XA, Tensor YA, Tensor XB, Tensor YB) Halves(ClassificationTable train, int seed)
    {
        var (a, b) = WeakToStrong.Split((int)train.Features.shape[0], seed);
        return (train.Features.index_select(0, a.to(train.Features.device)), train.Labels.index_select(0, a.to(train.Labels.device)),
                train.Features.index_select(0, b.to(train.Features.device)), train.Labels.index_select(0, b.to(train.Labels.device)));
    }

    /// <summary>Pretrains (or fetches) each trunk of <paramref name="specs"/> in order, reporting each, and returns their diagnostics.</summary>
    public static List<TrunkDiagnostics> PretrainTrunks(RepresentationTask task, IEnumerable<TrunkSpec> specs, Action<string> report, ILogger logger, CancellationToken ct)
    {
        var diagnostics = new List<TrunkDiagnostics>();
        foreach (var spec in specs)
        {
            ct.ThrowIfCancellationRequested();
            var d = task.Trunk(spec).Diagnostics;
            diagnostics.Add(d);
            logger.LogInformation("Pretrained trunk {Trunk} in {Seconds:F1} s: auxiliary R² {Aux:F3}, representation R² {Rep:F3}",
                d.Spec.Name, d.PretrainSeconds, d.AuxiliaryR2, d.RepresentationR2);
            report($"trunk {spec.Name} pretrained");
        }
        return diagnostics;
    }
}
