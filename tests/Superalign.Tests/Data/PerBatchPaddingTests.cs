using Superalign.Checkpoints;
using Superalign.Data;
using Superalign.Objectives.Competence;
using Superalign.Students;
using Superalign.Tests.Checkpoints;
using Xunit;
using TorchSharp;
using static TorchSharp.torch;

namespace Superalign.Tests.Data;

/// <summary>
/// Batches encoded when drawn and padded to their own longest sequence (CharacterTokenizer.SupervisedBatches and
/// PreferenceBatches): one long record no longer widens every row of the set.
/// </summary>
public sealed class PerBatchPaddingTests
{
    private static readonly CharacterTokenizer Tokenizer = new("abcdefghij =+0123456789");

    private static List<(string Prompt, string Response)> Examples()
    {
        var rng = new Random(4);
        var list = Enumerable.Range(0, 40).Select(i => ($"{i % 10}+{i % 7}=", new string((char)('a' + rng.Next(10)), 1 + rng.Next(6)))).ToList();
        list.Add(("a bad face", new string('j', 3000))); // one long example
        return list;
    }

    [Fact]
    public void Each_batch_is_padded_to_its_own_longest_and_equals_the_padded_rows()
    {
        var examples = Examples();
        var full = Tokenizer.ToSupervisedDataset(examples, limits: new EncodingLimits { MaxLength = 4000 });
        var source = Tokenizer.SupervisedBatches(examples, 8, seed: 3, limits: new EncodingLimits { MaxLength = 4000 });
        // The same rows, drawn in the same order from the padded dataset.
        var reference = full.Batches(8, seed: 3);
        int narrow = 0;
        for (int b = 0; b < 12; b++)
        {
            using var scope = NewDisposeScope();
            var batch = source.Next().Responses;
            var padded = reference.Next().Responses;
            long width = batch.Inputs.shape[1];
            // The batch's width is its longest sequence: some row's last column is not padding.
            Assert.True(batch.Inputs[TensorIndex.Colon, width - 1].ne(CharacterTokenizer.Pad).any().item<bool>() || batch.Mask[TensorIndex.Colon, width - 1].ne(0).any().item<bool>());
            Assert.Equal(padded.Inputs[TensorIndex.Colon, TensorIndex.Slice(0, width)].data<long>().ToArray(), batch.Inputs.data<long>().ToArray());
            Assert.Equal(padded.Targets[TensorIndex.Colon, TensorIndex.Slice(0, width)].data<long>().ToArray(), batch.Targets.data<long>().ToArray());
            Assert.Equal(padded.Mask[TensorIndex.Colon, TensorIndex.Slice(0, width)].data<float>().ToArray(), batch.Mask.data<float>().ToArray());
            // What the padded batch has beyond that width is padding only.
            Assert.Equal(0, padded.Mask[TensorIndex.Colon, TensorIndex.Slice(width, null)].sum().item<float>());
            if (width < 100) narrow++;
        }
        Assert.True(narrow >= 6, $"only {narrow} of 12 batches were narrow: the long example widened them");
    }

    [Fact]
    public void The_loss_on_a_narrow_batch_is_the_loss_on_the_padded_rows()
    {
        var examples = Examples().Take(40).ToList();
        using var lm = new TinyCausalLm(new TinyCausalLmOptions(Tokenizer.VocabularySize, 64, ModelDim: 16, Layers: 1, Heads: 2, Seed: 1), CPU);
        lm.SetTraining(false);
        var wide = Tokenizer.ToSupervisedDataset(examples, length: 64).Batches(10, seed: 1);
        var narrow = Tokenizer.SupervisedBatches(examples, 10, seed: 1);
        var ce = CompetenceObjectives.Create("ce");
        using var _ = no_grad();
        for (int b = 0; b < 4; b++)
        {
            using var scope = NewDisposeScope();
            double Loss(SupervisedBatch batch) => ce.Loss(new CompetenceInput(lm.Logits(batch.Responses), batch.Responses.Targets, batch.Responses.Mask, null, new TrainingProgress(0, 1))).ToDouble();
            var n = narrow.Next();
            Assert.True(n.Responses.Inputs.shape[1] < 64);
            Assert.Equal(Loss(wide.Next()), Loss(n), 5);
        }
    }

    [Fact]
    public void Preference_batches_pad_per_batch_resume_from_a_checkpoint_and_name_bad_records()
    {
        var records = Enumerable.Range(0, 30).Select(i => new PreferenceRecord($"{i}=", "ab", i == 7 ? new string('c', 500) : "c", "prefs.jsonl", i + 1)).ToList();
        var source = Tokenizer.PreferenceBatches(records, 4, seed: 2);
        var widths = Enumerable.Range(0, 8).Select(_ => source.Next().Chosen.Inputs.shape[1]).ToList();
        Assert.Contains(widths, w => w < 10);
        Assert.Contains(widths, w => w > 500);

        // Checkpointable: a second source restored from the first one's state draws the same next batch.
        string path = Path.Combine(CheckpointTestSupport.TempDir(), "source.ckpt");
        Checkpoint.Save(path, new Dictionary<string, ICheckpointable> { ["s"] = (ICheckpointable)source });
        var again = Tokenizer.PreferenceBatches(records, 4, seed: 2);
        Checkpoint.Load(path, new Dictionary<string, ICheckpointable> { ["s"] = (ICheckpointable)again });
        using var scope = NewDisposeScope();
        Assert.Equal(source.Next().Rejected.Inputs.data<long>().ToArray(), again.Next().Rejected.Inputs.data<long>().ToArray());

        var bad = records.Append(new PreferenceRecord("x", "Z", "c", "prefs.jsonl", 99)).ToList();
        Assert.Contains("prefs.jsonl:99", Assert.Throws<ArgumentException>(() => Tokenizer.PreferenceBatches(bad, 4)).Message);
        var tooLong = Assert.Throws<ArgumentException>(() => Tokenizer.SupervisedBatches([("a", new string('a', 5000))], 4));
        Assert.Contains("examples[0]", tooLong.Message);
    }
}
