using System.Diagnostics;
using System.Globalization;

namespace Superalign.Runtime;

/// <summary>
/// Estimates the time left for a run of <c>total</c> equal units of work (updates, protocol stages) from the pace since
/// the clock started: remaining = elapsed / (done − done at start) × (total − done). Units done before the clock started
/// (a resumed run) do not count towards the pace. Thread-safe.
/// </summary>
public sealed class RemainingTime
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly object _lock = new();
    private long? _doneAtStart;

    /// <summary>
    /// The estimated time left once <paramref name="done"/> of <paramref name="total"/> units are done, or null before
    /// a unit was timed (the first report only sets the starting point) and when <paramref name="total"/> is unknown (≤ 0).
    /// </summary>
    public TimeSpan? Estimate(long done, long total) => Estimate(done, total, _clock.Elapsed);

    /// <summary><see cref="Estimate(long, long)"/> at a given elapsed time since the clock started (for tests and replays).</summary>
    public TimeSpan? Estimate(long done, long total, TimeSpan elapsed)
    {
        if (total <= 0) return null;
        long start;
        lock (_lock)
        {
            _doneAtStart ??= done;
            start = _doneAtStart.Value;
        }
        long timed = done - start;
        if (timed <= 0) return null;
        if (done >= total) return TimeSpan.Zero;
        double seconds = elapsed.TotalSeconds / timed * (total - done);
        return TimeSpan.FromSeconds(Math.Min(seconds, TimeSpan.MaxValue.TotalSeconds / 2));
    }

    /// <summary>Starts the clock again: the next <see cref="Estimate(long, long)"/> sets a new starting point.</summary>
    public void Restart()
    {
        lock (_lock)
        {
            _doneAtStart = null;
            _clock.Restart();
        }
    }

    /// <summary>A short form for a log line: <c>45s</c>, <c>12m05s</c>, <c>3h07m</c>, <c>2d04h</c>; <c>?</c> when unknown.</summary>
    public static string Format(TimeSpan? remaining)
    {
        if (remaining is not { } t) return "?";
        // Whole seconds, rounded up: a run is never shown as done before it is.
        t = TimeSpan.FromSeconds(Math.Ceiling(Math.Max(0, Math.Min(t.TotalSeconds, 1e12))));
        var c = CultureInfo.InvariantCulture;
        if (t.TotalSeconds < 60) return string.Create(c, $"{(int)t.TotalSeconds}s");
        if (t.TotalMinutes < 60) return string.Create(c, $"{(int)t.TotalMinutes}m{t.Seconds:00}s");
        if (t.TotalHours < 48) return string.Create(c, $"{(int)t.TotalHours}h{t.Minutes:00}m");
        return string.Create(c, $"{(int)t.TotalDays}d{t.Hours:00}h");
    }
}
