using System.Globalization;
using System.Text.RegularExpressions;
using Spectre.Console;
using Superalign.Experiments.Protocols;
using Superalign.Runtime;

namespace Superalign.Cli;

/// <summary>
/// Progress of a run on stderr: live bars with elapsed time and ETA (Spectre.Console) when stderr is a terminal, plain
/// lines otherwise (<c>[protocol done/total] stage (p%, ETA t)</c>, one per report, which logs and Slurm output files
/// keep and which <see cref="TryParse"/> reads back). A display has one lane per process whose progress it shows.
/// </summary>
internal abstract partial class ProgressDisplay
{
    /// <summary>Whether <paramref name="error"/> is this process's stderr on a terminal that can draw live bars.</summary>
    public static bool IsInteractive(TextWriter error) =>
        ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected
        && Environment.GetEnvironmentVariable("TERM") is not ("dumb" or null or "")
        && Environment.GetEnvironmentVariable("SUPERALIGN_PLAIN_PROGRESS") is null;

    /// <summary>
    /// Runs <paramref name="work"/> with a display of <paramref name="lanes"/> lanes named by <paramref name="laneName"/>;
    /// the work reports through <see cref="Report"/> and writes other lines through <see cref="WriteLine"/>.
    /// </summary>
    public static T Run<T>(TextWriter error, int lanes, Func<int, string> laneName, Func<ProgressDisplay, T> work)
    {
        if (!IsInteractive(error)) return work(new Plain(error, lanes, laneName));
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(error) });
        T result = default!;
        console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(context => result = work(new Live(console, context, lanes, laneName)));
        return result;
    }

    /// <summary>A progress report of lane <paramref name="lane"/>.</summary>
    public abstract void Report(int lane, ProtocolProgress progress);

    /// <summary>A line that is not progress (a warning, a child's message), kept above live bars.</summary>
    public abstract void WriteLine(int lane, string line);

    /// <summary>Progress for one lane, for <see cref="IProtocol.Run"/>.</summary>
    public IProgress<ProtocolProgress> Lane(int lane) => new LaneProgress(this, lane);

    /// <summary>The plain line of a report (with the ETA of its lane).</summary>
    public static string PlainLine(ProtocolProgress p, TimeSpan? remaining) =>
        string.Create(CultureInfo.InvariantCulture, $"{p} ({100 * p.Fraction:0}%, ETA {RemainingTime.Format(remaining)})");

    /// <summary>Reads a line <see cref="PlainLine"/> wrote back into its report; false for any other line.</summary>
    public static bool TryParse(string line, out ProtocolProgress progress)
    {
        var m = PlainPattern().Match(line);
        if (m.Success && int.TryParse(m.Groups["done"].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out int done)
            && int.TryParse(m.Groups["total"].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out int total))
        {
            progress = new ProtocolProgress(m.Groups["protocol"].Value, m.Groups["stage"].Value, done, total);
            return true;
        }
        progress = null!;
        return false;
    }

    [GeneratedRegex(@"^\[(?<protocol>\S+) (?<done>\d+)/(?<total>\d+)\] (?<stage>.*) \(\d+%, ETA [^)]*\)$")]
    private static partial Regex PlainPattern();

    private sealed class LaneProgress(ProgressDisplay display, int lane) : IProgress<ProtocolProgress>
    {
        public void Report(ProtocolProgress value) => display.Report(lane, value);
    }

    private sealed class Plain(TextWriter error, int lanes, Func<int, string> laneName) : ProgressDisplay
    {
        private readonly RemainingTime[] _remaining = Enumerable.Range(0, lanes).Select(_ => new RemainingTime()).ToArray();

        public override void Report(int lane, ProtocolProgress progress) =>
            WriteLine(lane, PlainLine(progress, _remaining[lane].Estimate(progress.Done, progress.Total)));

        public override void WriteLine(int lane, string line)
        {
            string prefix = laneName(lane);
            lock (error) error.WriteLine(prefix.Length == 0 ? line : $"{prefix} {line}");
        }
    }

    private sealed class Live : ProgressDisplay
    {
        private readonly IAnsiConsole _console;
        private readonly ProgressTask[] _tasks;
        private readonly Func<int, string> _laneName;

        public Live(IAnsiConsole console, ProgressContext context, int lanes, Func<int, string> laneName)
        {
            _console = console;
            _laneName = laneName;
            _tasks = Enumerable.Range(0, lanes).Select(i => context.AddTask(Markup.Escape(Label(i, "starting")), maxValue: 1)).ToArray();
        }

        private string Label(int lane, string text) => _laneName(lane) is { Length: > 0 } name ? $"{name} {text}" : text;

        public override void Report(int lane, ProtocolProgress progress)
        {
            var task = _tasks[lane];
            lock (task)
            {
                task.MaxValue = Math.Max(1, progress.Total);
                task.Value = Math.Min(progress.Done, task.MaxValue);
                task.Description = Markup.Escape(Label(lane, $"{progress.Protocol}: {progress.Stage}"));
            }
        }

        public override void WriteLine(int lane, string line)
        {
            lock (_console) _console.MarkupLine(Markup.Escape(Label(lane, line)));
        }
    }
}
