namespace Superalign;

/// <summary>
/// A training batch that does not fit the student it is given to: a label or token id out of range, features of the
/// wrong width or dtype, an empty or fully masked batch, mask or soft-target values out of range. Thrown by
/// <see cref="BatchCheck"/> (and so by the optimizers, before the forward pass and before any update) instead of the
/// error the native code would raise, or the silent misreading it would do.
/// </summary>
/// <remarks>
/// The message names the field (e.g. <c>competence batch Targets</c>), the offending value and its index, and what is
/// allowed. It derives from <see cref="ArgumentException"/>: code that catches bad arguments catches it too.
/// </remarks>
public sealed class InvalidBatchException : ArgumentException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="field">The field at fault, e.g. <c>competence batch Targets</c> or <c>preference batch Rejected.Mask</c>.</param>
    /// <param name="message">The full message: the field, the offending value and its index, what is allowed.</param>
    public InvalidBatchException(string field, string message)
        : base(message)
    {
        Field = field;
    }

    /// <summary>The field at fault, e.g. <c>competence batch Targets</c> or <c>preference batch Rejected.Mask</c>.</summary>
    public string Field { get; }
}
