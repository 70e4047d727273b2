using Superalign.Students;
using TorchSharp;
using static TorchSharp.torch;

namespace Superalign.Supervision;

/// <summary>Argument checks shared by the supervisors; every error names the parameter.</summary>
internal static class SupervisionCheck
{
    public static string Shape(Tensor t) => $"[{string.Join(", ", t.shape)}]";

    /// <summary>Features <c>[B, F]</c> (any floating dtype).</summary>
    public static void Features(Tensor? features, string parameter, long? width = null)
    {
        ArgumentNullException.ThrowIfNull(features, parameter);
        if (features.dim() != 2 || width is { } w && features.shape[1] != w)
            throw new ArgumentException(
                $"{parameter} must have shape [B, {(width is { } f ? f.ToString() : "F")}]; got {Shape(features)}.", parameter);
    }

    /// <summary>Soft labels <c>[B, C]</c> returned by a supervisor.</summary>
    public static void SoftLabels(Tensor labels, long batch, string source)
    {
        if (labels.dim() != 2 || labels.shape[0] != batch || labels.shape[1] < 1 || !labels.is_floating_point())
            throw new InvalidOperationException(
                $"{source} must return floating soft labels [{batch}, C]; got {labels.dtype} {Shape(labels)}.");
    }

    /// <summary>Two response batches of one size, the second named <paramref name="secondParameter"/> in errors.</summary>
    public static void Pair(ResponseBatch? first, ResponseBatch? second, string firstParameter, string secondParameter)
    {
        ArgumentNullException.ThrowIfNull(first, firstParameter);
        ArgumentNullException.ThrowIfNull(second, secondParameter);
        if (second.Count != first.Count)
            throw new ArgumentException(
                $"{secondParameter} must hold as many responses as {firstParameter} ({first.Count}); got {second.Count}.", secondParameter);
    }

    /// <summary>Scores <c>[B]</c> returned by a scoring function.</summary>
    public static void Scores(Tensor? scores, long batch, string source)
    {
        if (scores is null)
            throw new InvalidOperationException($"{source} returned null; it must return scores [{batch}].");
        if (scores.dim() != 1 || scores.shape[0] != batch)
            throw new InvalidOperationException($"{source} must return one score per response, shape [{batch}]; got {Shape(scores)}.");
    }

    /// <summary>A probability (rate) in [0, 1].</summary>
    public static void Rate(double value, string parameter)
    {
        if (!(value >= 0 && value <= 1))
            throw new ArgumentOutOfRangeException(parameter, value, $"{parameter} must be in [0, 1]; got {value}.");
    }

    /// <summary>A softmax or logistic temperature: finite and positive (or, when allowed, zero).</summary>
    public static void Temperature(double value, string parameter, bool allowZero)
    {
        bool ok = double.IsFinite(value) && (allowZero ? value >= 0 : value > 0);
        if (!ok)
            throw new ArgumentOutOfRangeException(parameter, value,
                $"{parameter} must be finite and {(allowZero ? "at least 0" : "greater than 0")}; got {value}.");
    }
}

/// <summary>
/// Puts a student in evaluation mode for the duration of a labeling or judging call and restores the caller's mode.
/// </summary>
internal readonly struct EvaluationMode : IDisposable
{
    private readonly IStudent _student;
    private readonly bool _wasTraining;

    private EvaluationMode(IStudent student, bool wasTraining)
    {
        _student = student;
        _wasTraining = wasTraining;
    }

    public static EvaluationMode Enter(IStudent student)
    {
        bool wasTraining = student.IsTraining;
        student.SetTraining(false);
        return new EvaluationMode(student, wasTraining);
    }

    public void Dispose()
    {
        if (_wasTraining) _student.SetTraining(true);
    }
}
