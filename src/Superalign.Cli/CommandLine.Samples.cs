namespace Superalign.Cli;

public static partial class CommandLine
{
    /// <summary>
    /// A sample program: <c>superalign run <paramref name="protocol"/></c> with the command line's options
    /// (<paramref name="args"/>), adding <c>--out <paramref name="defaultOut"/></c> unless <c>--out</c> is given and
    /// <c>--seeds <paramref name="defaultSeeds"/></c> unless <c>--seeds</c> or <c>--config</c> is (a config file holds
    /// its seeds).
    /// </summary>
    /// <returns>The exit code: 0, or <see cref="BadInput"/> for a bad command line (one line on <paramref name="error"/>, before any work).</returns>
    public static int RunSample(string protocol, string[] args, string defaultOut, string defaultSeeds, TextWriter output, TextWriter error) =>
        RunSample([protocol], args, defaultOut, defaultSeeds, output, error);

    /// <summary>
    /// A sample program that runs several protocols one after the other with the same options, each into
    /// <c>OUT/&lt;protocol&gt;</c> (OUT: <c>--out</c>, else <paramref name="defaultOut"/>). Every protocol's options are
    /// checked before the first one runs: a setting that one of them does not have is bad input (run that protocol
    /// alone with <c>superalign run</c>). <c>--write-config</c> is refused (it would write one file per protocol to the
    /// same path).
    /// </summary>
    /// <returns>The exit code: 0, the first failing run's code, or <see cref="BadInput"/>.</returns>
    public static int RunSample(IReadOnlyList<string> protocols, string[] args, string defaultOut, string defaultSeeds, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(protocols);
        ArgumentNullException.ThrowIfNull(args);
        if (protocols.Count == 0) throw new ArgumentException("A sample runs at least one protocol.", nameof(protocols));
        var defaults = new List<string>();
        if (!Given(args, "--seeds") && !Given(args, "--config")) defaults.AddRange(["--seeds", defaultSeeds]);
        if (args.Any(a => a is "--help" or "-h" or "-?" or "/?"))
        {
            output.WriteLine($"This sample is `superalign run {string.Join("` then `superalign run ", protocols)}` with --out {defaultOut}" +
                             $"{(protocols.Count > 1 ? "/<protocol>" : "")} and --seeds {defaultSeeds} unless given; it takes the options below (no protocol argument).");
            return Run(["run", protocols[0], .. args], output, error);
        }
        if (protocols.Count == 1)
            return Run(["run", protocols[0], .. args, .. defaults, .. Given(args, "--out") ? Array.Empty<string>() : ["--out", defaultOut]], output, error);

        if (Given(args, "--write-config"))
        {
            error.WriteLine($"superalign: --write-config: this sample runs {string.Join(" and ", protocols)}; write each one's options with superalign run <protocol> --write-config FILE.");
            return BadInput;
        }
        var (rest, outBase) = WithoutOut(args);
        var runs = protocols.Select(p => (Protocol: p, Args: (string[])["run", p, .. rest, .. defaults, "--out", Path.Combine(outBase ?? defaultOut, p)])).ToList();
        // Every protocol's options are read and validated (nothing is run) before the first run starts.
        string check = Path.Combine(Path.GetTempPath(), $"superalign-sample-check-{Environment.ProcessId}.json");
        try
        {
            foreach (var (protocol, runArgs) in runs)
            {
                var message = new StringWriter();
                int code = Run([.. runArgs, "--write-config", check], TextWriter.Null, message);
                if (code != 0)
                {
                    string line = message.ToString().Split('\n')[0].Trim();
                    error.WriteLine(line.StartsWith("superalign: ", StringComparison.Ordinal) ? $"superalign: {protocol}: {line["superalign: ".Length..]}" : line);
                    return code;
                }
            }
        }
        finally
        {
            File.Delete(check);
        }
        for (int i = 0; i < runs.Count; i++)
        {
            if (i > 0) output.WriteLine();
            int code = Run(runs[i].Args, output, error);
            if (code != 0) return code;
        }
        return 0;
    }

    /// <summary>Whether <paramref name="args"/> give the option <paramref name="name"/> (<c>--name value</c>, <c>--name=value</c> or <c>--name:value</c>).</summary>
    private static bool Given(string[] args, string name) =>
        args.Any(a => a == name || a.StartsWith(name + "=", StringComparison.Ordinal) || a.StartsWith(name + ":", StringComparison.Ordinal));

    /// <summary><paramref name="args"/> without a well-formed <c>--out</c>, and its value (null when absent or malformed: the run then reports it).</summary>
    private static (string[] Others, string? Out) WithoutOut(string[] args)
    {
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--out" && i + 1 < args.Length && !args[i + 1].StartsWith('-'))
                return ([.. args[..i], .. args[(i + 2)..]], args[i + 1]);
            if (args[i].Length > 6 && args[i].StartsWith("--out", StringComparison.Ordinal) && args[i][5] is '=' or ':')
                return ([.. args[..i], .. args[(i + 1)..]], args[i][6..]);
        }
        return (args, null);
    }
}
