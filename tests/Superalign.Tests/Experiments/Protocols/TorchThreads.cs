namespace Superalign.Tests.Experiments.Protocols;

/// <summary>
/// The protocol tests train many tiny models, which on a small shared machine run several times faster on one
/// thread; test collections run serially (xunit.runner.json), so the global setting cannot leak into a concurrent test.
/// </summary>
internal static class TorchThreads
{
    /// <summary>One TorchSharp thread until disposed, then the previous count (the library's <see cref="Superalign.Runtime.TorchThreads.Use"/>).</summary>
    public static IDisposable Single() => Superalign.Runtime.TorchThreads.Use(1);
}
