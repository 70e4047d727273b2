using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;

namespace Superalign.Experiments.Protocols;

/// <summary>How a <see cref="GapSchedule"/> chooses the next student size.</summary>
public enum GapScheduleKind
{
    /// <summary>A fixed number of ladder steps beyond the last size trained (1 = every size in turn).</summary>
    LadderSteps,

    /// <summary>
    /// The smallest later size whose probe-estimated capability exceeds the current supervisor's probe accuracy by at
    /// least <see cref="GapSchedule.Delta"/> (the largest size when none does).
    /// </summary>
    CapabilityGap,
}

/// <summary>
/// The gap per round of <see cref="GapAnnealing"/>: which size of the ladder the next student has, given the last size
/// trained and the current supervisor. The chain always ends with the largest size.
/// </summary>
public sealed record GapSchedule
{
    /// <summary>The rule. Default <see cref="GapScheduleKind.LadderSteps"/>.</summary>
    public GapScheduleKind Kind { get; init; } = GapScheduleKind.LadderSteps;

    /// <summary>Ladder steps per round for <see cref="GapScheduleKind.LadderSteps"/>. At least 1. Default 1.</summary>
    public int LadderSteps { get; init; } = 1;

    /// <summary>
    /// Required capability gap δ for <see cref="GapScheduleKind.CapabilityGap"/>, in accuracy (0.02 = 2 points).
    /// In [0, 1). Default 0.02.
    /// </summary>
    public double Delta { get; init; } = 0.02;

    /// <summary>Every size of the ladder in turn: the smallest gap the ladder allows.</summary>
    public static GapSchedule OneSizeAtATime => new();

    /// <summary><paramref name="ladderSteps"/> sizes per round (the last round may be shorter).</summary>
    /// <param name="ladderSteps">At least 1.</param>
    public static GapSchedule Stride(int ladderSteps) => new() { LadderSteps = ladderSteps };

    /// <summary>The smallest next size whose probe-estimated capability beats the supervisor by at least <paramref name="delta"/>.</summary>
    /// <param name="delta">The gap in accuracy, in [0, 1).</param>
    public static GapSchedule MinimumCapabilityGap(double delta) => new() { Kind = GapScheduleKind.CapabilityGap, Delta = delta };

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming <paramref name="option"/> when a value is out of range.</summary>
    /// <param name="option">The option that holds the schedule, for the message.</param>
    /// <param name="owner">The options type, for the message.</param>
    public void Validate(string option = "Schedule", string owner = nameof(GapSchedule))
    {
        if (!Enum.IsDefined(Kind))
            throw new ArgumentOutOfRangeException(option, Kind, $"{owner}.{option}.{nameof(Kind)} must be one of {string.Join(", ", Enum.GetNames<GapScheduleKind>())}.");
        if (LadderSteps < 1)
            throw new ArgumentOutOfRangeException(option, LadderSteps, $"{owner}.{option}.{nameof(LadderSteps)} must be at least 1; got {LadderSteps}.");
        if (!(double.IsFinite(Delta) && Delta >= 0 && Delta < 1))
            throw new ArgumentOutOfRangeException(option, Delta, $"{owner}.{option}.{nameof(Delta)} must be in [0, 1); got {Delta}.");
    }

    /// <summary>The rung (ladder index) of the next student.</summary>
    /// <param name="position">The rung of the last student trained (0 = the weak model).</param>
    /// <param name="last">The largest rung.</param>
    /// <param name="supervisorProbeAccuracy">The current supervisor's accuracy on the probe set.</param>
    /// <param name="capabilities">Probe-estimated capability per rung (needed by <see cref="GapScheduleKind.CapabilityGap"/>).</param>
    /// <returns>A rung in <c>(position, last]</c>.</returns>
    /// <exception cref="ArgumentException"><paramref name="position"/> is not below <paramref name="last"/>, or capabilities are missing.</exception>
    public int Next(int position, int last, double supervisorProbeAccuracy, IReadOnlyList<double>? capabilities)
    {
        if (position < 0 || position >= last)
            throw new ArgumentException($"position must be in [0, {last}); got {position}.", nameof(position));
        if (Kind == GapScheduleKind.LadderSteps) return Math.Min(last, position + LadderSteps);
        if (capabilities is null || capabilities.Count <= last)
            throw new ArgumentException($"The capability-gap schedule needs a capability for each of the {last + 1} rungs.", nameof(capabilities));
        for (int r = position + 1; r < last; r++)
            if (capabilities[r] >= supervisorProbeAccuracy + Delta) return r;
        return last;
    }

    /// <inheritdoc />
    public override string ToString() => Kind == GapScheduleKind.LadderSteps
        ? (LadderSteps == 1 ? "one size at a time" : string.Create(CultureInfo.InvariantCulture, $"{LadderSteps} sizes per round"))
        : string.Create(CultureInfo.InvariantCulture, $"smallest size with probe capability >= supervisor + {Delta:G3}");
}
