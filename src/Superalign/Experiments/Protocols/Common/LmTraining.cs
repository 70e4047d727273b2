using Microsoft.Extensions.Logging;
using Superalign.Data;
using Superalign.Objectives.Competence;
using Superalign.Optimization;
using Superalign.Students;
using Superalign.Supervision;
using Superalign.Experiments.Tasks;
using static TorchSharp.torch;

namespace Superalign.Experiments.Protocols;

/// <summary>Models and training steps shared by the language-model protocols.</summary>
internal static class LmTraining
{
    /// <summary>
    /// A model from <paramref name="factory"/> (or the built-in tiny LM), checked against the data's vocabulary and
    /// sequence length.
    /// </summary>
    public static ILanguageModelStudent NewModel(LanguageModelFactory? factory, LanguageModelRequest request, int modelDim, int layers, int heads)
    {
        if (factory is null)
            return new TinyCausalLm(new TinyCausalLmOptions(request.VocabularySize, request.SequenceLength, modelDim, layers, heads, Seed: request.Seed), request.Device, request.Name);
        var model = factory(request) ?? throw new InvalidOperationException($"The language-model factory returned null for '{request.Name}'.");
        if (model.VocabularySize != request.VocabularySize || model.MaxSequenceLength < request.SequenceLength)
        {
            model.Dispose();
            throw new InvalidOperationException(
                $"The language-model factory made '{request.Name}' with vocabulary {model.VocabularySize} and sequence length {model.MaxSequenceLength}; the data need vocabulary {request.VocabularySize} exactly (the protocol's character tokenizer) and sequence length at least {request.SequenceLength} (LanguageModelRequest).");
        }
        return model;
    }

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

    /// <summary>The judge's verdicts on pairs (a, b) of responses (1 = prefers a, 0.5 = tie): mean log-probability per token under the judge.</summary>
    public static double[] JudgeVerdicts(ITokenizer tokenizer, int sequenceLength, ILanguageModelStudent judge, IReadOnlyList<string> prompts, IReadOnlyList<string> a, IReadOnlyList<string> b,
        SequenceOptions? sequences = null)
    {
        var supervisor = ScoringPreferenceSupervisor.FromJudge(judge, temperature: 0, perToken: true);
        using var scope = NewDisposeScope();
        var (ta, ma) = tokenizer.EncodeExamples(prompts.Select((p, i) => (p, a[i])).ToList(), sequenceLength, sequences: sequences);
        var (tb, mb) = tokenizer.EncodeExamples(prompts.Select((p, i) => (p, b[i])).ToList(), sequenceLength, sequences: sequences);
        var prefer = supervisor.Prefer(ResponseBatch.ForCausalLm(ta, ma), ResponseBatch.ForCausalLm(tb, mb));
        return prefer.to_type(ScalarType.Float64).cpu().data<double>().ToArray();
    }
}
