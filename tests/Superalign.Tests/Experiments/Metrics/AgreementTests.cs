using Superalign.Experiments.Metrics;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Experiments.Metrics;

public sealed class AgreementTests
{
    // A hand-made 10-example, 3-class case.
    //                              i:  0  1  2  3  4  5  6  7  8  9
    private static readonly int[] Labels = { 0, 1, 2, 0, 1, 2, 0, 1, 2, 0 };
    private static readonly int[] Weak = { 0, 1, 2, 1, 1, 0, 2, 2, 2, 1 };    // wrong at 3, 5, 6, 7, 9
    private static readonly int[] Student = { 0, 1, 1, 1, 1, 2, 0, 0, 2, 1 };
    // At the weak errors: 3 copies (1 = weak 1), 5 corrects (2), 6 corrects (0), 7 is another error (0: weak 2, label 1),
    // 9 copies (1). Student vs weak: equal at 0, 1, 3, 4, 8, 9 → 6/10.

    [Fact]
    public void Weak_errors_are_split_into_copied_corrected_and_other()
    {
        var a = SupervisorAgreement.WeakErrors(Labels, Weak, Student);

        Assert.Equal(new WeakErrorAnalysis(10, WeakErrors: 5, Copied: 2, Corrected: 2, OtherErrors: 1), a);
        Assert.Equal(0.4, a.CopiedFraction, 12);
        Assert.Equal(0.4, a.CorrectedFraction, 12);
    }

    [Fact]
    public void Agreement_and_accuracy_on_the_hand_made_case()
    {
        Assert.Equal(0.6, SupervisorAgreement.Rate(Student, Weak), 12);
        Assert.Equal(0.5, ClassificationAccuracy.Of(Weak, Labels), 12);
        Assert.Equal(0.6, ClassificationAccuracy.Of(Student, Labels), 12);
        Assert.Equal(new double[] { 1, 1, 0, 0, 1, 1, 1, 0, 1, 0 }, ClassificationAccuracy.Correct(Student, Labels));
    }

    [Fact]
    public void Tensor_overloads_take_ids_or_scores_and_leak_nothing()
    {
        using var scope = NewDisposeScope();
        var labels = tensor(Labels.Select(l => (long)l).ToArray());
        // The weak model's soft labels put 0.6 on its prediction; the student's logits put 2 on its own.
        var weakSoft = full(10, 3, 0.2f);
        var studentLogits = zeros(10, 3);
        for (int i = 0; i < 10; i++)
        {
            weakSoft[i, Weak[i]] = 0.6f;
            studentLogits[i, Student[i]] = 2f;
        }
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        var a = SupervisorAgreement.WeakErrors(labels, weakSoft, studentLogits);
        double rate = SupervisorAgreement.Rate(studentLogits, weakSoft);
        double acc = ClassificationAccuracy.Of(studentLogits, labels);

        Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        Assert.Equal(SupervisorAgreement.WeakErrors(Labels, Weak, Student), a);
        Assert.Equal(0.6, rate, 12);
        Assert.Equal(0.6, acc, 12);
        Assert.Equal(Student, ClassificationAccuracy.Predictions(studentLogits));
    }

    [Fact]
    public void Without_weak_errors_the_fractions_are_undefined()
    {
        var a = SupervisorAgreement.WeakErrors(new[] { 0, 1 }, new[] { 0, 1 }, new[] { 1, 1 });
        Assert.Equal(0, a.WeakErrors);
        Assert.True(double.IsNaN(a.CopiedFraction));
        Assert.True(double.IsNaN(a.CorrectedFraction));
    }

    [Fact]
    public void Predictions_take_the_first_maximum()
    {
        Assert.Equal(new[] { 1, 0, 2 }, ClassificationAccuracy.Predictions(new double[,] { { 0.2, 0.5, 0.3 }, { 0.4, 0.4, 0.2 }, { 0, 0, 1 } }));
    }

    [Fact]
    public void Bad_inputs_name_the_parameter()
    {
        Assert.Equal("first", Assert.Throws<ArgumentException>(() => SupervisorAgreement.Rate(Array.Empty<int>(), Array.Empty<int>())).ParamName);
        Assert.Equal("second", Assert.Throws<ArgumentException>(() => SupervisorAgreement.Rate(new[] { 1, 2 }, new[] { 1 })).ParamName);
        Assert.Equal("weak", Assert.Throws<ArgumentException>(() => SupervisorAgreement.WeakErrors(Labels, Weak[..9], Student)).ParamName);
        Assert.Equal("student", Assert.Throws<ArgumentException>(() => SupervisorAgreement.WeakErrors(Labels, Weak, Student[..9])).ParamName);
        Assert.Equal("predictions", Assert.Throws<ArgumentException>(() => ClassificationAccuracy.Of(new[] { 1 }, new[] { 1, 2 })).ParamName);
        using var scope = NewDisposeScope();
        Assert.Equal("second", Assert.Throws<ArgumentException>(() => SupervisorAgreement.Rate(zeros(3, 2), zeros(3, 2, 2))).ParamName);
        Assert.Equal("labels", Assert.Throws<ArgumentException>(() => ClassificationAccuracy.Of(zeros(3, 2), zeros(3))).ParamName);
    }
}
