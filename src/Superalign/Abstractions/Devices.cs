using static TorchSharp.torch;

namespace Superalign;

/// <summary>Device selection: the default device of students and protocols, and device names as options give them.</summary>
public static class Devices
{
    /// <summary>CUDA when a GPU and the CUDA backend are present, otherwise the CPU.</summary>
    public static Device Default() => cuda.is_available() ? CUDA : CPU;

    /// <summary>Parses <c>"cpu"</c>, <c>"cuda"</c>, <c>"cuda:1"</c> or <c>"auto"</c> (null or empty = auto).</summary>
    public static Device Parse(string? name) =>
        string.IsNullOrWhiteSpace(name) || name.Equals("auto", StringComparison.OrdinalIgnoreCase) ? Default() : new Device(name);
}
