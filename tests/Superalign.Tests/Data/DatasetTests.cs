using Superalign.Data;
using Superalign.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Data;

public class DatasetTests
{
    [Fact]
    public void Epochs_visit_every_row_once_and_reshuffle_deterministically()
    {
        using var scope = NewDisposeScope();
        var x = arange(10, dtype: ScalarType.Float32).unsqueeze(1);
        var d = SupervisedDataset.ForClassification(x, arange(10, dtype: ScalarType.Int64));
        List<long> Epoch(IBatchSource<SupervisedBatch> s, int batches) =>
            Enumerable.Range(0, batches).SelectMany(_ => s.Next().Responses.Targets.squeeze(1).data<long>().ToArray()).ToList();
        var a = d.Batches(4, seed: 3);
        var first = Epoch(a, 3);   // 4 + 4 + 2
        var second = Epoch(a, 3);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), first.OrderBy(v => v));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), second.OrderBy(v => v));
        Assert.NotEqual(first, second);
        Assert.Equal(first, Epoch(d.Batches(4, seed: 3), 3));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), Epoch(d.Batches(5, shuffle: false), 2));
    }

    [Fact]
    public void Drop_last_gives_full_batches_only()
    {
        using var scope = NewDisposeScope();
        var d = SupervisedDataset.ForClassification(randn(10, 2), zeros(10, dtype: ScalarType.Int64));
        var s = d.Batches(4, dropLast: true);
        for (int i = 0; i < 7; i++) Assert.Equal(4, s.Next().Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => d.Batches(11, dropLast: true));
        Assert.Equal("batchSize", Assert.Throws<ArgumentOutOfRangeException>(() => d.Batches(0)).ParamName);
    }

    [Fact]
    public void Classification_preferences_share_inputs_through_slicing()
    {
        using var scope = NewDisposeScope();
        var p = PreferenceDataset.ForClassification(randn(8, 3), zeros(8, dtype: ScalarType.Int64), ones(8, dtype: ScalarType.Int64));
        Assert.True(p.Pairs.SharesInputs);
        var b = p.Select(new long[] { 5, 1 });
        Assert.True(b.SharesInputs);
        Assert.Equal(new long[] { 0, 0 }, b.Chosen.Targets.squeeze(1).data<long>().ToArray());
        Assert.Equal(new long[] { 1, 1 }, b.Rejected.Targets.squeeze(1).data<long>().ToArray());
    }

    [Fact]
    public void Cached_reference_log_probs_match_a_direct_computation()
    {
        using var scope = NewDisposeScope();
        using var reference = new LinearTestStudent(3, 4, seed: 5);
        var x = randn(10, 3);
        var chosen = tensor(new long[] { 0, 1, 2, 3, 0, 1, 2, 3, 0, 1 });
        var rejected = tensor(new long[] { 3, 2, 1, 0, 3, 2, 1, 0, 3, 2 });
        var cached = PreferenceDataset.ForClassification(x, chosen, rejected).WithReferenceLogProbs(reference, chunkSize: 3);
        using var _ = no_grad();
        var logp = reference.Layer.call(x).log_softmax(-1);
        TorchAssert.Close(logp.gather(1, chosen.unsqueeze(1)).squeeze(1), cached.Pairs.ReferenceChosen!, 1e-6);
        TorchAssert.Close(logp.gather(1, rejected.unsqueeze(1)).squeeze(1), cached.Pairs.ReferenceRejected!, 1e-6);
        var b = cached.Select(new long[] { 9, 0 });
        Assert.Equal(cached.Pairs.ReferenceChosen![9].ToSingle(), b.ReferenceChosen![0].ToSingle());
    }

    [Fact]
    public void Reference_log_probs_of_a_language_model_do_not_depend_on_the_chunking()
    {
        using var scope = NewDisposeScope();
        // A vocabulary large enough that the automatic chunk (at most 2^26 logits: 2 × 15 positions × 32,768 ids per
        // pair → 68 pairs) splits the 150 pairs into three forwards; one pair per forward and one forward of all 150
        // must give the same values, and so must a direct computation on each pair.
        const int Vocabulary = 32_768, Length = 16, Pairs = 150;
        using var lm = new Superalign.Students.TinyCausalLm(new Superalign.Students.TinyCausalLmOptions(Vocabulary, Length, ModelDim: 8, Layers: 1, Heads: 2, Seed: 3), CPU);
        var g = new Generator(11);
        var chosen = randint(Vocabulary, new long[] { Pairs, Length }, generator: g);
        var rejected = randint(Vocabulary, new long[] { Pairs, Length }, generator: g);
        var mask = ones(Pairs, Length);
        mask.narrow(1, 0, 4).zero_();
        var data = PreferenceDataset.ForCausalLm(chosen, mask, rejected, mask);
        var automatic = data.WithReferenceLogProbs(lm);
        var single = data.WithReferenceLogProbs(lm, chunkSize: 1);
        var all = data.WithReferenceLogProbs(lm, chunkSize: Pairs);
        TorchAssert.Close(single.Pairs.ReferenceChosen!, automatic.Pairs.ReferenceChosen!, 1e-4, what: "automatic vs one pair per forward (chosen)");
        TorchAssert.Close(single.Pairs.ReferenceRejected!, automatic.Pairs.ReferenceRejected!, 1e-4, what: "automatic vs one pair per forward (rejected)");
        TorchAssert.Close(all.Pairs.ReferenceChosen!, automatic.Pairs.ReferenceChosen!, 1e-4, what: "automatic vs one forward (chosen)");
        using var _ = no_grad();
        var row = data.Select(new long[] { 149 });
        var direct = LogProbs.Sequence(lm, row.Chosen).ToSingle();
        Assert.InRange(automatic.Pairs.ReferenceChosen![149].ToSingle(), direct - 1e-3f, direct + 1e-3f);
        Assert.Throws<ArgumentOutOfRangeException>(() => data.WithReferenceLogProbs(lm, chunkSize: -1));
    }

    [Fact]
    public void Causal_lm_batches_shift_targets_and_mask_the_prompt()
    {
        using var scope = NewDisposeScope();
        var tokens = tensor(new long[] { 5, 6, 7, 8, 0 }).unsqueeze(0);
        var mask = tensor(new float[] { 0, 0, 1, 1, 0 }).unsqueeze(0);
        var b = ResponseBatch.ForCausalLm(tokens, mask);
        Assert.Equal(new long[] { 5, 6, 7, 8 }, b.Inputs.data<long>().ToArray());
        Assert.Equal(new long[] { 6, 7, 8, 0 }, b.Targets.data<long>().ToArray());
        Assert.Equal(new float[] { 0, 1, 1, 0 }, b.Mask.data<float>().ToArray());
        Assert.Equal(2f, b.Lengths().ToSingle());
    }

    [Fact]
    public void Concat_pads_the_shorter_sequences_with_masked_zeros()
    {
        using var scope = NewDisposeScope();
        var a = ResponseBatch.ForCausalLm(tensor(new long[] { 1, 2, 3 }).unsqueeze(0), tensor(new float[] { 0, 1, 1 }).unsqueeze(0));
        var b = ResponseBatch.ForCausalLm(tensor(new long[] { 1, 2, 3, 4, 5 }).unsqueeze(0), tensor(new float[] { 0, 1, 1, 1, 1 }).unsqueeze(0));
        var c = ResponseBatch.Concat(a, b);
        Assert.Equal(new long[] { 2, 4 }, c.Inputs.shape);
        Assert.Equal(new long[] { 1, 2, 0, 0, 1, 2, 3, 4 }, c.Inputs.data<long>().ToArray());
        Assert.Equal(new float[] { 1, 1, 0, 0, 1, 1, 1, 1 }, c.Mask.data<float>().ToArray());
        var f1 = ResponseBatch.ForClassification(randn(2, 3), zeros(2, dtype: ScalarType.Int64));
        var f2 = ResponseBatch.ForClassification(randn(2, 4), zeros(2, dtype: ScalarType.Int64));
        Assert.Throws<ArgumentException>(() => ResponseBatch.Concat(f1, f2));
    }
}
