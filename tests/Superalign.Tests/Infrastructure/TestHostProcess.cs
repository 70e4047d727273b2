using System.Diagnostics;
using System.Reflection;
using Xunit;

namespace Superalign.Tests.Infrastructure;

/// <summary>tests/Superalign.TestHost as a child process: the kill-and-resume tests start it with <c>dotnet &lt;dll&gt;</c>.</summary>
public static class TestHostProcess
{
    /// <summary>The start of <c>dotnet Superalign.TestHost.dll arguments…</c>, with stdout and stderr redirected.</summary>
    public static ProcessStartInfo StartInfo(IEnumerable<string> arguments)
    {
        string host = typeof(TestHostProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "SuperalignTestHost").Value!;
        Assert.True(File.Exists(host), $"The test host is not built: {host}");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } dotnet ? dotnet : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(host);
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        return start;
    }
}
