using TorchSharp;
using static TorchSharp.torch;

namespace Superalign.Data;

/// <summary>
/// In-memory supervised data: all examples as one <see cref="ResponseBatch"/> and optional soft labels. Batches are
/// row selections made on demand (inside the optimizer's step scope, so they are freed with the step).
/// </summary>
public sealed class SupervisedDataset
{
    /// <summary>Creates a dataset after checking the shapes.</summary>
    public SupervisedDataset(ResponseBatch examples, Tensor? softTargets = null)
    {
        ArgumentNullException.ThrowIfNull(examples);
        new SupervisedBatch(examples, softTargets).Validate();
        Examples = examples;
        SoftTargets = softTargets;
    }

    /// <summary>All examples.</summary>
    public ResponseBatch Examples { get; }

    /// <summary>Soft labels of all examples, or null.</summary>
    public Tensor? SoftTargets { get; }

    /// <summary>Number of examples.</summary>
    public int Count => (int)Examples.Count;

    /// <summary>A classification dataset from features <c>[N, F]</c>, labels <c>[N]</c> and optional soft labels <c>[N, C]</c>.</summary>
    public static SupervisedDataset ForClassification(Tensor features, Tensor labels, Tensor? softLabels = null) =>
        new(ResponseBatch.ForClassification(features, labels), softLabels);

    /// <summary>A language-model dataset from token sequences <c>[N, L]</c> and response masks <c>[N, L]</c>.</summary>
    public static SupervisedDataset ForCausalLm(Tensor tokens, Tensor responseMask) =>
        new(ResponseBatch.ForCausalLm(tokens, responseMask));

    /// <summary>Rows <paramref name="indices"/> as a batch.</summary>
    public SupervisedBatch Select(long[] indices)
    {
        using var index = tensor(indices, device: Examples.Targets.device);
        var soft = SoftTargets?.index_select(0, index.to(SoftTargets.device));
        return new SupervisedBatch(Examples.Select(index), soft);
    }

    /// <summary>Endless mini-batches, reshuffled every epoch with <paramref name="seed"/>; checkpointable (<see cref="Checkpoints.ICheckpointable"/>).</summary>
    public IBatchSource<SupervisedBatch> Batches(int batchSize, int seed = 0, bool shuffle = true, bool dropLast = false)
    {
        return BatchSource.Sampled(new EpochSampler(Count, batchSize, shuffle, dropLast, seed), Select);
    }

    /// <summary>
    /// Endless mini-batches that follow an easy-to-hard <see cref="Curriculum"/>: the examples are ordered by
    /// <paramref name="confidence"/> (most confident first) and the first <paramref name="totalBatches"/> batches are
    /// cut into <paramref name="stages"/> stages, each drawing from the buckets its <paramref name="pacing"/> allows.
    /// The optimizer pulls one batch per update (per micro-batch with gradient accumulation), so pass its total number
    /// of updates (times the accumulation steps) as <paramref name="totalBatches"/>.
    /// </summary>
    /// <param name="confidence">One confidence per example, e.g. <see cref="Curriculum.Confidence"/> of the soft labels.</param>
    /// <param name="batchSize">Examples per batch (a batch never spans two stages or two epochs of a pool, so it may be smaller).</param>
    /// <param name="totalBatches">Batches the curriculum is spread over (at least 1); later batches stay in the last stage.</param>
    /// <param name="stages">Number of stages and buckets (at least 1, at most the number of examples). Default 3.</param>
    /// <param name="pacing">Whether stage <c>k</c> sees buckets 0…k (default) or bucket k alone.</param>
    /// <param name="seed">Seed of the shuffles.</param>
    /// <exception cref="ArgumentException">The confidences do not match the examples or are not finite.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A count is out of range (the exception names it).</exception>
    public IBatchSource<SupervisedBatch> CurriculumBatches(IReadOnlyList<double> confidence, int batchSize, long totalBatches,
        int stages = 3, CurriculumPacing pacing = CurriculumPacing.Cumulative, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(confidence);
        if (confidence.Count != Count)
            throw new ArgumentException($"confidence must hold one value per example ({Count}); got {confidence.Count}.", nameof(confidence));
        return BatchSource.Sampled(new CurriculumSampler(confidence, batchSize, totalBatches, stages, pacing, seed), Select);
    }
}

/// <summary>
/// In-memory preference pairs, optionally with reference log-probs computed once and cached
/// (<see cref="WithReferenceLogProbs"/>): the reference then costs nothing per training step.
/// </summary>
public sealed class PreferenceDataset
{
    /// <summary>Creates a dataset after checking the shapes.</summary>
    public PreferenceDataset(PreferenceBatch pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        pairs.Validate();
        Pairs = pairs;
    }

    /// <summary>All pairs.</summary>
    public PreferenceBatch Pairs { get; }

    /// <summary>Number of pairs.</summary>
    public int Count => (int)Pairs.Count;

    /// <summary>Whether reference log-probs are cached.</summary>
    public bool HasCachedReference => Pairs.HasCachedReference;

    /// <summary>
    /// Classification preferences: for input features <c>[N, F]</c>, class <paramref name="chosen"/> is preferred to
    /// class <paramref name="rejected"/> (each <c>[N]</c>). Both sides share the inputs, so one forward pass scores both.
    /// </summary>
    public static PreferenceDataset ForClassification(Tensor features, Tensor chosen, Tensor rejected)
    {
        var c = ResponseBatch.ForClassification(features, chosen);
        var r = ResponseBatch.ForClassification(features, rejected);
        return new PreferenceDataset(new PreferenceBatch(c, new ResponseBatch(c.Inputs, r.Targets, r.Mask)));
    }

    /// <summary>Language-model preferences from chosen and rejected sequences (prompt + response) with response masks.</summary>
    public static PreferenceDataset ForCausalLm(Tensor chosenTokens, Tensor chosenMask, Tensor rejectedTokens, Tensor rejectedMask) =>
        new(new PreferenceBatch(ResponseBatch.ForCausalLm(chosenTokens, chosenMask), ResponseBatch.ForCausalLm(rejectedTokens, rejectedMask)));

    /// <summary>Rows <paramref name="indices"/> as a batch; shared inputs stay shared.</summary>
    public PreferenceBatch Select(long[] indices)
    {
        using var index = tensor(indices, device: Pairs.Chosen.Targets.device);
        var chosen = Pairs.Chosen.Select(index);
        var rejected = Pairs.SharesInputs
            ? new ResponseBatch(chosen.Inputs, Pairs.Rejected.Targets.index_select(0, index), Pairs.Rejected.Mask.index_select(0, index))
            : Pairs.Rejected.Select(index);
        return new PreferenceBatch(chosen, rejected,
            Pairs.ReferenceChosen?.index_select(0, index.to(Pairs.ReferenceChosen.device)),
            Pairs.ReferenceRejected?.index_select(0, index.to(Pairs.ReferenceRejected.device)));
    }

    /// <summary>Endless mini-batches, reshuffled every epoch with <paramref name="seed"/>; checkpointable (<see cref="Checkpoints.ICheckpointable"/>).</summary>
    public IBatchSource<PreferenceBatch> Batches(int batchSize, int seed = 0, bool shuffle = true, bool dropLast = false)
    {
        return BatchSource.Sampled(new EpochSampler(Count, batchSize, shuffle, dropLast, seed), Select);
    }

    /// <summary>
    /// A copy of this dataset carrying the reference log-probs of every pair under <paramref name="reference"/>,
    /// computed once, in chunks of <paramref name="chunkSize"/> pairs, without gradient and in evaluation mode. The
    /// cached values are stored on the CPU.
    /// </summary>
    /// <param name="reference">The reference policy's model.</param>
    /// <param name="chunkSize">Pairs per forward pass; 0 (the default) picks it: 256, or for a language model as many
    /// as keep one chunk's logits (2 × pairs × positions × vocabulary) within <see cref="ReferenceChunkElements"/>
    /// floats, so a 50 k-token vocabulary does not need gigabytes at once.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="chunkSize"/> is negative.</exception>
    public PreferenceDataset WithReferenceLogProbs(IStudent reference, int chunkSize = 0)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (chunkSize < 0) throw new ArgumentOutOfRangeException(nameof(chunkSize), chunkSize, "chunkSize must be >= 0 (0 picks it).");
        if (chunkSize == 0) chunkSize = ReferenceChunk(reference);
        var chosen = new double[Count];
        var rejected = new double[Count];
        reference.SetTraining(false);
        using (no_grad())
        {
            for (int start = 0; start < Count; start += chunkSize)
            {
                using var scope = NewDisposeScope();
                int n = Math.Min(chunkSize, Count - start);
                var batch = Select(Enumerable.Range(start, n).Select(i => (long)i).ToArray()).To(reference.Device);
                var (c, r) = LogProbs.Pair(reference, batch);
                c.to_type(ScalarType.Float64).cpu().data<double>().CopyTo(chosen.AsSpan(start, n));
                r.to_type(ScalarType.Float64).cpu().data<double>().CopyTo(rejected.AsSpan(start, n));
            }
        }
        var dtype = ScalarType.Float32;
        var device = Pairs.Chosen.Targets.device;
        return new PreferenceDataset(Pairs with
        {
            ReferenceChosen = tensor(chosen, dtype: dtype, device: device),
            ReferenceRejected = tensor(rejected, dtype: dtype, device: device),
        });
    }

    /// <summary>The most logits (floats) one automatically sized chunk of <see cref="WithReferenceLogProbs"/> holds: 2²⁶ (256 MB).</summary>
    public const long ReferenceChunkElements = 1L << 26;

    private int ReferenceChunk(IStudent reference)
    {
        const int Default = 256;
        if (reference is not ILanguageModelStudent lm) return Default;
        long positions = Math.Max(Pairs.Chosen.Targets.shape[^1], Pairs.Rejected.Targets.shape[^1]);
        long perPair = 2 * positions * lm.VocabularySize;
        return (int)Math.Clamp(ReferenceChunkElements / Math.Max(1, perPair), 1, Default);
    }
}
