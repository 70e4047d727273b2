using Microsoft.Extensions.Logging;
using Superalign.Data;
using Superalign.Objectives.Competence;
using Superalign.Optimization;
using Superalign.Students;
using Superalign.Experiments.Tasks;
using static TorchSharp.torch;

namespace Superalign.Experiments.Protocols;

/// <summary>Training steps shared by the protocols that run on the value-conflict task.</summary>
internal static class LmTraining
{
    /// <summary>A tiny LM sized for <paramref name="task"/>, initialised from <paramref name="seed"/> (the same weights on every device).</summary>
    public static TinyCausalLm NewModel(ValueConflictTask task, int modelDim, int layers, int heads, int seed, string name, Device device) =>
        new(new TinyCausalLmOptions(task.Tokenizer.VocabularySize, task.SequenceLength, modelDim, layers, heads, Seed: seed), device, name);

    /// <summary>Optimizer options: AdamW at <paramref name="learningRate"/>, 5% warm-up, cosine decay, no periodic log line.</summary>
    public static AlternatingOptimizerOptions Options(int steps, IAlternationSchedule schedule, double learningRate) => new()
    {
        TotalSteps = steps,
        Schedule = schedule,
        LearningRate = learningRate,
        WarmupSteps = Math.Min(steps, Math.Max(1, steps / 20)),
        LogEvery = 0,
    };

    /// <summary>Supervised fine-tuning of <paramref name="model"/> on <paramref name="data"/> for <paramref name="steps"/> updates.</summary>
    public static void Sft(IStudent model, SupervisedDataset data, string loss, int steps, int batchSize, double learningRate, int seed,
        ILoggerFactory? loggerFactory, CancellationToken cancellationToken)
    {
        if (steps <= 0) return;
        using var optimizer = new AlternatingOptimizer(model, CompetenceObjectives.Create(loss), null,
            Options(steps, AlternationSchedules.CompetenceOnly(), learningRate), logger: loggerFactory?.CreateLogger<AlternatingOptimizer>());
        optimizer.Train(data.Batches(batchSize, seed: seed), null, cancellationToken: cancellationToken);
    }
}
