using System.Diagnostics;
using Xunit;

namespace Superalign.Tests.Infrastructure;

/// <summary>
/// A fact that needs a reachable Slurm cluster (<c>sbatch</c> on the PATH, <c>sinfo</c> answering; the cluster of
/// <c>tests/slurm/cluster.sh</c> with <c>SLURM_CONF</c> set). It is skipped with the reason where none is reachable,
/// unless <c>SUPERALIGN_REQUIRE_SLURM=1</c> (CI sets it after starting the cluster): then it runs and fails.
/// </summary>
public sealed class SlurmFactAttribute : FactAttribute
{
    /// <summary>The environment variable that turns the skip into a failure.</summary>
    public const string RequireVariable = "SUPERALIGN_REQUIRE_SLURM";

    public SlurmFactAttribute()
    {
        if (!Required && Unreachable() is { } why)
            Skip = $"No Slurm cluster: {why} (bash tests/slurm/cluster.sh start; export SLURM_CONF=$(bash tests/slurm/cluster.sh conf); or {RequireVariable}=1 to fail instead).";
    }

    /// <summary>Whether the test must run (and fail) even where no cluster is reachable.</summary>
    public static bool Required => Environment.GetEnvironmentVariable(RequireVariable) == "1";

    /// <summary>Why no cluster is reachable, or null when <c>sinfo</c> answers.</summary>
    public static string? Unreachable()
    {
        if (!OperatingSystem.IsLinux()) return "not Linux";
        try
        {
            var start = new ProcessStartInfo("sinfo", ["--noheader", "--format=%t"])
                { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            using var process = Process.Start(start)!;
            var error = process.StandardError.ReadToEndAsync();
            process.StandardOutput.ReadToEnd();
            if (!process.WaitForExit(20_000))
            {
                process.Kill(entireProcessTree: true);
                return "sinfo did not answer in 20 s";
            }
            return process.ExitCode == 0 ? null : $"sinfo failed: {error.Result.Trim().Split('\n')[0]}";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "sinfo is not on the PATH";
        }
    }
}
