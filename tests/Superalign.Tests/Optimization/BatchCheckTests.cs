using Superalign.Data;
using Superalign.Objectives.Competence;
using Superalign.Objectives.Conformity;
using Superalign.Optimization;
using Superalign.Students;
using Superalign.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Optimization;

/// <summary>
/// Bad batches are rejected at the optimizer boundary, before the forward pass, with an <see cref="InvalidBatchException"/>
/// that names the field, the value, its index and the allowed range (not a libtorch message), and without an update:
/// the parameters and the step count stay as they were.
/// </summary>
public sealed class BatchCheckTests
{
    private const int F = 4, C = 3, V = 11, MaxLength = 8;

    private static MlpClassifier Classifier() => new(new MlpClassifierOptions(F, C, HiddenWidth: 8, Depth: 1, Seed: 1), CPU);

    private static TinyCausalLm Lm() => new(new TinyCausalLmOptions(VocabularySize: V, MaxSequenceLength: MaxLength, ModelDim: 16, Layers: 1, Heads: 2, Seed: 2), CPU);

    private static Tensor Features(int rows = 5, ScalarType dtype = ScalarType.Float32, int width = F) =>
        randn(new long[] { rows, width }, generator: new Generator(7)).to_type(dtype);

    private static SupervisedBatch Labels(params long[] labels) =>
        new(ResponseBatch.ForClassification(Features(labels.Length), tensor(labels)));

    private static double[] Weights(IStudent s) =>
        s.Parameters().SelectMany(p => p.detach().cpu().data<float>().ToArray().Select(v => (double)v)).ToArray();

    // Weight decay makes even a zero-gradient step move the parameters, so "unchanged" shows that no update ran.
    private static AlternatingOptimizerOptions Options(IAlternationSchedule schedule) =>
        new() { TotalSteps = 4, LearningRate = 0.1, WeightDecay = 0.1, Schedule = schedule };

    private static void NotNative(Exception ex)
    {
        Assert.DoesNotContain("Exception raised from", ex.Message);
        Assert.DoesNotContain("c10", ex.Message);
        Assert.DoesNotContain("out of bounds", ex.Message);
    }

    /// <summary>One competence step on <paramref name="batch"/> must throw before any update.</summary>
    private static InvalidBatchException RejectedCompetence(IStudent student, SupervisedBatch batch, string field)
    {
        var before = Weights(student);
        using var optimizer = new AlternatingOptimizer(student, CompetenceObjectives.Create("ce"), null, Options(AlternationSchedules.CompetenceOnly()));
        var ex = Assert.Throws<InvalidBatchException>(() => optimizer.Step(BatchSource.Cycle(new[] { batch }), null));
        Assert.Equal(0, optimizer.StepsDone);
        Assert.Equal(before, Weights(student));
        Assert.Equal(field, ex.Field);
        Assert.StartsWith(field, ex.Message);
        NotNative(ex);
        return ex;
    }

    /// <summary>One conformity step on <paramref name="batch"/> must throw before any update.</summary>
    private static InvalidBatchException RejectedPreference(IStudent student, PreferenceBatch batch, string field)
    {
        var before = Weights(student);
        using var optimizer = new AlternatingOptimizer(student, null, ConformityObjectives.Create("simpo"), Options(AlternationSchedules.ConformityOnly()));
        var ex = Assert.Throws<InvalidBatchException>(() => optimizer.Step(null, BatchSource.Cycle(new[] { batch })));
        Assert.Equal(0, optimizer.StepsDone);
        Assert.Equal(before, Weights(student));
        Assert.Equal(field, ex.Field);
        Assert.StartsWith(field, ex.Message);
        NotNative(ex);
        return ex;
    }

    [Fact]
    public void A_label_beyond_the_classes_of_the_student_is_named_with_its_index_and_the_range()
    {
        // The data has 9 classes, the student 3: libtorch said "Target 8 is out of bounds".
        using var scope = NewDisposeScope();
        using var student = Classifier();
        var ex = RejectedCompetence(student, Labels(0, 1, 8, 2, 0), "competence batch Targets");
        Assert.Contains("Targets[2, 0] = 8", ex.Message);
        Assert.Contains("[0, 2]", ex.Message);
        Assert.Contains("Classes = 3", ex.Message);
    }

    [Fact]
    public void A_negative_label_is_rejected()
    {
        using var scope = NewDisposeScope();
        using var student = Classifier();
        var ex = RejectedCompetence(student, Labels(0, 1, 2, -1, 0), "competence batch Targets");
        Assert.Contains("Targets[3, 0] = -1", ex.Message);
    }

    [Fact]
    public void Float64_features_and_features_of_the_wrong_width_are_named()
    {
        using var scope = NewDisposeScope();
        using var student = Classifier();
        var labels = tensor(new long[] { 0, 1, 2, 0, 1 });
        var dtype = RejectedCompetence(student, new SupervisedBatch(ResponseBatch.ForClassification(Features(dtype: ScalarType.Float64), labels)), "competence batch Inputs");
        Assert.Contains("Float64", dtype.Message);
        Assert.Contains("Float32", dtype.Message);
        var width = RejectedCompetence(student, new SupervisedBatch(ResponseBatch.ForClassification(Features(width: F + 2), labels)), "competence batch Inputs");
        Assert.Contains("[5, 6]", width.Message);
        Assert.Contains("InputFeatures = 4", width.Message);
    }

    [Fact]
    public void An_empty_batch_applies_no_update()
    {
        using var scope = NewDisposeScope();
        using var student = Classifier();
        var empty = new SupervisedBatch(ResponseBatch.ForClassification(Features(0), zeros(0, dtype: ScalarType.Int64)));
        Assert.Contains("no rows", RejectedCompetence(student, empty, "competence batch").Message);
    }

    [Fact]
    public void A_batch_whose_responses_are_all_masked_applies_no_update()
    {
        using var scope = NewDisposeScope();
        using var student = Classifier();
        var labels = tensor(new long[] { 0, 1, 2, 0, 1 }).unsqueeze(1);
        var masked = new SupervisedBatch(new ResponseBatch(Features(), labels, zeros(5, 1)));
        Assert.Contains("0 everywhere", RejectedCompetence(student, masked, "competence batch Mask").Message);
    }

    [Fact]
    public void Mask_values_outside_zero_and_one_are_rejected()
    {
        using var scope = NewDisposeScope();
        using var student = Classifier();
        var labels = tensor(new long[] { 0, 1, 2, 0, 1 }).unsqueeze(1);
        var mask = ones(5, 1);
        mask[3, 0] = tensor(2f);
        var ex = RejectedCompetence(student, new SupervisedBatch(new ResponseBatch(Features(), labels, mask)), "competence batch Mask");
        Assert.Contains("Mask[3, 0] = 2", ex.Message);
    }

    [Fact]
    public void Soft_targets_of_the_wrong_width_or_with_a_nan_are_rejected()
    {
        using var scope = NewDisposeScope();
        using var student = Classifier();
        var responses = ResponseBatch.ForClassification(Features(), tensor(new long[] { 0, 1, 2, 0, 1 }));
        var wide = RejectedCompetence(student, new SupervisedBatch(responses, full(5, C + 1, 1.0f / (C + 1))), "competence batch SoftTargets");
        Assert.Contains("4 entries per row", wide.Message);
        var soft = full(5, C, 1.0f / C);
        soft[1, 2] = tensor(float.NaN);
        var nan = RejectedCompetence(student, new SupervisedBatch(responses, soft), "competence batch SoftTargets");
        Assert.Contains("SoftTargets[1, 2] = NaN", nan.Message);
    }

    [Fact]
    public void Minus_100_at_a_scored_position_is_rejected_and_points_to_the_mask()
    {
        using var scope = NewDisposeScope();
        using var student = Classifier();
        var ex = RejectedCompetence(student, Labels(0, -100, 2, 0, 1), "competence batch Targets");
        Assert.Contains("Targets[1, 0] = -100", ex.Message);
        Assert.Contains("Mask[1, 0] = 0", ex.Message);
    }

    [Fact]
    public void Minus_100_at_a_masked_position_is_never_read_in_competence()
    {
        // The same step with -100 or a valid class at the masked position: same loss, same parameters after.
        using var scope = NewDisposeScope();
        var features = Features();
        var mask = ones(5, 1);
        mask[1, 0] = tensor(0f);
        (double Loss, double[] Weights) Run(long masked)
        {
            using var student = Classifier();
            var labels = tensor(new long[] { 0, masked, 2, 0, 1 }).unsqueeze(1);
            var batch = new SupervisedBatch(new ResponseBatch(features, labels, mask));
            using var optimizer = new AlternatingOptimizer(student, CompetenceObjectives.Create("ce"), null, Options(AlternationSchedules.CompetenceOnly()));
            var report = optimizer.Step(BatchSource.Cycle(new[] { batch }), null);
            return (report.Loss, Weights(student));
        }
        var ignored = Run(-100);
        var valid = Run(1);
        Assert.Equal(valid.Loss, ignored.Loss);
        Assert.Equal(valid.Weights, ignored.Weights);
    }

    // ---- preference batches (language model) ----

    /// <summary>Three sequences of 6 tokens: a 2-token prompt, then the response.</summary>
    private static (Tensor Tokens, Tensor Mask) Sequences(long seed)
    {
        var tokens = randint(V, new long[] { 3, 6 }, generator: new Generator((ulong)seed));
        var mask = zeros(3, 6);
        mask.narrow(1, 2, 4).fill_(1);
        return (tokens, mask);
    }

    private static PreferenceBatch Pair(Action<Tensor, Tensor>? editChosen = null, Action<Tensor, Tensor>? editRejected = null)
    {
        var (ct, cm) = Sequences(3);
        var (rt, rm) = Sequences(4);
        editChosen?.Invoke(ct, cm);
        editRejected?.Invoke(rt, rm);
        return new PreferenceBatch(ResponseBatch.ForCausalLm(ct, cm), ResponseBatch.ForCausalLm(rt, rm));
    }

    [Fact]
    public void A_token_id_beyond_the_vocabulary_is_named()
    {
        using var scope = NewDisposeScope();
        using var lm = Lm();
        var ex = RejectedPreference(lm, Pair(editChosen: (t, _) => t[2, 1] = tensor((long)V)), "preference batch Chosen.Inputs");
        Assert.Contains("Inputs[2, 1] = 11", ex.Message);
        Assert.Contains("VocabularySize = 11", ex.Message);
        // The last token is a target only.
        var target = RejectedPreference(lm, Pair(editRejected: (t, _) => t[0, 5] = tensor(40L)), "preference batch Rejected.Targets");
        Assert.Contains("Targets[0, 4] = 40", target.Message);
    }

    [Fact]
    public void Minus_100_at_a_scored_position_of_a_preference_pair_is_rejected()
    {
        // It used to be read as log p = 0 (cross_entropy's ignore index) and so counted as a certain token.
        using var scope = NewDisposeScope();
        using var lm = Lm();
        // The last token is a target only, and a scored one.
        var batch = Pair(editRejected: (t, _) => t[1, 5] = tensor(-100L));
        var ex = RejectedPreference(lm, batch, "preference batch Rejected.Targets");
        Assert.Contains("Targets[1, 4] = -100", ex.Message);
        Assert.Contains("Mask[1, 4] = 0", ex.Message);
    }

    [Fact]
    public void Masked_targets_of_a_preference_pair_may_hold_any_value()
    {
        // -100 and an id beyond the vocabulary at masked positions: the log-probs equal those with valid ids there
        // (the out-of-range id reached the native gather before).
        using var scope = NewDisposeScope();
        using var lm = Lm();
        lm.SetTraining(false);
        var (tokens, mask) = Sequences(5);
        var inputs = tokens.narrow(1, 0, 5);
        var targets = tokens.narrow(1, 1, 5).clone();
        var responseMask = mask.narrow(1, 1, 5);
        var junk = targets.clone();
        junk[0, 0] = tensor(-100L);
        junk[2, 0] = tensor(999L);
        var clean = new PreferenceBatch(new ResponseBatch(inputs, targets, responseMask), new ResponseBatch(inputs, targets, responseMask));
        var padded = new PreferenceBatch(new ResponseBatch(inputs, junk, responseMask), new ResponseBatch(inputs, junk, responseMask));
        BatchCheck.Preference(lm, padded);
        using (no_grad())
        {
            var (pc, _) = LogProbs.Pair(lm, clean);
            var (qc, _) = LogProbs.Pair(lm, padded);
            Assert.Equal(pc.data<float>().ToArray(), qc.data<float>().ToArray());
        }
        using var optimizer = new AlternatingOptimizer(lm, null, ConformityObjectives.Create("simpo"), Options(AlternationSchedules.ConformityOnly()));
        Assert.True(double.IsFinite(optimizer.Step(null, BatchSource.Cycle(new[] { padded })).Loss));
    }

    [Fact]
    public void A_response_without_a_scored_position_is_rejected()
    {
        using var scope = NewDisposeScope();
        using var lm = Lm();
        var ex = RejectedPreference(lm, Pair(editRejected: (_, m) => m[1].fill_(0)), "preference batch Rejected.Mask");
        Assert.Contains("row 1", ex.Message);
    }

    [Fact]
    public void Sequences_longer_than_the_model_reads_and_int32_tokens_are_named()
    {
        using var scope = NewDisposeScope();
        using var lm = Lm();
        var longTokens = randint(V, new long[] { 3, MaxLength + 2 }, generator: new Generator(1));
        var longMask = ones(3, MaxLength + 2);
        var tooLong = new PreferenceBatch(ResponseBatch.ForCausalLm(longTokens, longMask), ResponseBatch.ForCausalLm(longTokens, longMask));
        Assert.Contains("MaxSequenceLength", RejectedPreference(lm, tooLong, "preference batch Chosen.Inputs").Message);
        var (t, m) = Sequences(2);
        var int32 = new PreferenceBatch(ResponseBatch.ForCausalLm(t.to_type(ScalarType.Int32), m), ResponseBatch.ForCausalLm(t, m));
        Assert.Contains("int64", RejectedPreference(lm, int32, "preference batch Chosen.Inputs").Message);
    }

    [Fact]
    public void A_non_finite_cached_reference_and_an_empty_pair_batch_are_rejected()
    {
        using var scope = NewDisposeScope();
        using var lm = Lm();
        var reference = tensor(new[] { -3f, float.NegativeInfinity, -2f });
        var batch = Pair() with { ReferenceChosen = reference, ReferenceRejected = tensor(new[] { -1f, -1f, -1f }) };
        Assert.Contains("ReferenceChosen[1] = -Infinity", RejectedPreference(lm, batch, "preference batch ReferenceChosen").Message);
        var empty = ResponseBatch.ForCausalLm(zeros(0, 6, dtype: ScalarType.Int64), zeros(0, 6));
        Assert.Contains("no rows", RejectedPreference(lm, new PreferenceBatch(empty, empty), "preference batch Chosen").Message);
    }

    // ---- classifier preferences and students that declare no vocabulary ----

    [Fact]
    public void A_preferred_class_beyond_the_classes_is_rejected_for_a_classifier()
    {
        using var scope = NewDisposeScope();
        using var student = Classifier();
        var x = Features();
        var batch = new PreferenceBatch(
            ResponseBatch.ForClassification(x, tensor(new long[] { 0, 0, 0, 0, 0 })),
            ResponseBatch.ForClassification(x, tensor(new long[] { 2, 2, 7, 2, 2 })));
        Assert.True(batch.SharesInputs);
        Assert.Contains("Targets[2, 0] = 7", RejectedPreference(student, batch, "preference batch Rejected.Targets").Message);
    }

    [Fact]
    public void For_a_student_without_declared_classes_the_width_of_the_logits_bounds_the_targets()
    {
        using var scope = NewDisposeScope();
        using var student = new LinearTestStudent(F, C, seed: 3);
        var ex = RejectedCompetence(student, Labels(0, 1, 2, 0, 5), "competence batch Targets");
        Assert.Contains("Targets[4, 0] = 5", ex.Message);
        Assert.Contains("[0, 2]", ex.Message);
        var x = Features();
        var pair = new PreferenceBatch(ResponseBatch.ForClassification(x, tensor(new long[] { 0, 0, 3, 0, 0 })), ResponseBatch.ForClassification(x, tensor(new long[] { 2, 2, 2, 2, 2 })));
        Assert.Contains("Targets[2, 0] = 3", RejectedPreference(student, pair, "preference batch Chosen.Targets").Message);
        Assert.Contains("-100", RejectedCompetence(student, Labels(0, 1, -100, 0, 1), "competence batch Targets").Message);
    }

    [Fact]
    public void Masked_targets_beyond_the_logits_of_a_student_without_declared_classes_are_accepted()
    {
        // The bound found before the forward pass is over all positions; padding alone must not be reported.
        using var scope = NewDisposeScope();
        using var student = new LinearTestStudent(F, C, seed: 3);
        var labels = tensor(new long[] { 0, 7, 2, -100, 1 }).unsqueeze(1);
        var mask = tensor(new[] { 1f, 0f, 1f, 0f, 1f }).unsqueeze(1);
        var batch = new SupervisedBatch(new ResponseBatch(Features(), labels, mask));
        BatchCheck.Competence(student, batch);
        using var optimizer = new AlternatingOptimizer(student, CompetenceObjectives.Create("ce"), null, Options(AlternationSchedules.CompetenceOnly()));
        Assert.True(double.IsFinite(optimizer.Step(BatchSource.Cycle(new[] { batch }), null).Loss));
        Assert.Equal(1, optimizer.StepsDone);
    }

    [Fact]
    public void The_public_checks_accept_valid_batches_and_reject_bad_ones_as_argument_exceptions()
    {
        using var scope = NewDisposeScope();
        using var student = Classifier();
        using var lm = Lm();
        BatchCheck.Competence(student, Labels(0, 1, 2, 0, 1));
        BatchCheck.Competence(student, new SupervisedBatch(ResponseBatch.ForClassification(Features(), tensor(new long[] { 0, 1, 2, 0, 1 })), full(5, C, 1.0f / C)));
        BatchCheck.Preference(lm, Pair());
        ArgumentException ex = Assert.Throws<InvalidBatchException>(() => BatchCheck.Competence(student, Labels(0, 3, 2, 0, 1)));
        Assert.Contains("Targets[1, 0] = 3", ex.Message);
        NotNative(ex);
    }
}
