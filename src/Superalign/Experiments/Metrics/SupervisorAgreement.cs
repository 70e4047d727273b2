using static TorchSharp.torch;

namespace Superalign.Experiments.Metrics;

/// <summary>
/// What the student did with the weak supervisor's mistakes: among the test examples the weak supervisor gets
/// wrong, how many the student gets wrong the same way (copied), gets right (corrected), or gets wrong differently.
/// </summary>
/// <param name="Examples">Number of examples compared.</param>
/// <param name="WeakErrors">Examples where the weak supervisor's prediction differs from the label.</param>
/// <param name="Copied">Weak errors where the student predicts the same wrong class as the weak supervisor.</param>
/// <param name="Corrected">Weak errors where the student predicts the label.</param>
/// <param name="OtherErrors">Weak errors where the student is wrong with another class (only possible with 3+ classes).</param>
public sealed record WeakErrorAnalysis(int Examples, int WeakErrors, int Copied, int Corrected, int OtherErrors)
{
    /// <summary><see cref="Copied"/> / <see cref="WeakErrors"/>; NaN when the weak supervisor makes no error.</summary>
    public double CopiedFraction => WeakErrors == 0 ? double.NaN : Copied / (double)WeakErrors;

    /// <summary><see cref="Corrected"/> / <see cref="WeakErrors"/>; NaN when the weak supervisor makes no error.</summary>
    public double CorrectedFraction => WeakErrors == 0 ? double.NaN : Corrected / (double)WeakErrors;
}

/// <summary>
/// Student–supervisor agreement, and how many of the supervisor's errors the student copies or corrects — the
/// diagnostics the weak-to-strong protocol reports beside PGR (a student that imitates its supervisor perfectly has
/// agreement 1 and copies every error).
/// </summary>
public static class SupervisorAgreement
{
    /// <summary>Fraction of examples on which two predictors choose the same class.</summary>
    /// <param name="first">Class ids <c>[N]</c> (e.g. the student's predictions).</param>
    /// <param name="second">Class ids <c>[N]</c> (e.g. the supervisor's argmax labels).</param>
    /// <exception cref="ArgumentException">Empty or different lengths (the message names the parameter).</exception>
    public static double Rate(int[] first, int[] second)
    {
        MetricInputs.NotEmpty(first, nameof(first));
        MetricInputs.SameLength(second, first.Length, nameof(second), nameof(first));
        int same = 0;
        for (int i = 0; i < first.Length; i++)
            if (first[i] == second[i]) same++;
        return same / (double)first.Length;
    }

    /// <summary>Agreement of two tensors of class ids <c>[N]</c> or scores <c>[N, C]</c> (compared by argmax).</summary>
    /// <param name="first">Integer ids <c>[N]</c>, or probabilities or logits <c>[N, C]</c>.</param>
    /// <param name="second">Integer ids <c>[N]</c>, or probabilities or logits <c>[N, C]</c>.</param>
    public static double Rate(Tensor first, Tensor second) =>
        Rate(MetricInputs.Ids(first, nameof(first)), MetricInputs.Ids(second, nameof(second)));

    /// <summary>Counts the weak supervisor's errors the student copies, corrects, or replaces with another error.</summary>
    /// <param name="labels">True class ids <c>[N]</c>.</param>
    /// <param name="weak">The weak supervisor's predictions <c>[N]</c>.</param>
    /// <param name="student">The student's predictions <c>[N]</c>.</param>
    /// <exception cref="ArgumentException">Empty or different lengths (the message names the parameter).</exception>
    public static WeakErrorAnalysis WeakErrors(int[] labels, int[] weak, int[] student)
    {
        MetricInputs.NotEmpty(labels, nameof(labels));
        MetricInputs.SameLength(weak, labels.Length, nameof(weak), nameof(labels));
        MetricInputs.SameLength(student, labels.Length, nameof(student), nameof(labels));
        int errors = 0, copied = 0, corrected = 0, other = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            if (weak[i] == labels[i]) continue;
            errors++;
            if (student[i] == weak[i]) copied++;
            else if (student[i] == labels[i]) corrected++;
            else other++;
        }
        return new WeakErrorAnalysis(labels.Length, errors, copied, corrected, other);
    }

    /// <summary>
    /// <see cref="WeakErrors(int[], int[], int[])"/> for tensors: each of
    /// class ids <c>[N]</c> or scores <c>[N, C]</c> (reduced by argmax), on any device.
    /// </summary>
    /// <param name="labels">Integer class ids <c>[N]</c>.</param>
    /// <param name="weak">The weak supervisor's ids or soft labels.</param>
    /// <param name="student">The student's ids, probabilities or logits.</param>
    public static WeakErrorAnalysis WeakErrors(Tensor labels, Tensor weak, Tensor student) =>
        WeakErrors(MetricInputs.Ids(labels, nameof(labels)), MetricInputs.Ids(weak, nameof(weak)), MetricInputs.Ids(student, nameof(student)));
}
