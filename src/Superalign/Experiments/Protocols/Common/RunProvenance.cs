using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;

namespace Superalign.Experiments.Protocols;

/// <summary>
/// Where and with what a result was computed: the CPU (model and vector instructions), the torch thread count, the operating system, the .NET,
/// TorchSharp and libtorch versions, Superalign's version and commit, and the time. The models' numbers of a protocol
/// are deterministic only for the same seeds, CPU model, thread count and library versions (docs/results.md, "CPU and
/// thread sensitivity"), so a published number should carry this record. <see cref="Capture"/> records the current
/// process; a run directory stores one with every unit (<see cref="ProtocolUnitStore.Write{T}"/>) and
/// <see cref="ResultProvenance"/> gathers them for a result.
/// </summary>
/// <remarks>A field that cannot be found out is <see cref="Unknown"/> (text) or 0 (counts).</remarks>
public sealed record RunProvenance
{
    /// <summary>The text of a field that could not be found out.</summary>
    public const string Unknown = "unknown";

    /// <summary>The CPU model: on Linux the first <c>model name</c> of <c>/proc/cpuinfo</c>, elsewhere the process architecture with "(model unknown)".</summary>
    public string CpuModel { get; init; } = Unknown;

    /// <summary>
    /// The widest vector instructions the CPU offers (<c>AVX-512</c>, <c>AVX2</c>, <c>AVX</c>, <c>SSE4.2</c>, <c>AdvSimd</c> or
    /// <c>none</c>): libtorch picks its kernels by them, so two CPUs that differ here can give different numbers, and a
    /// virtual machine's CPU model may be as vague as "AMD EPYC".
    /// </summary>
    public string VectorExtensions { get; init; } = Unknown;

    /// <summary>Logical processors the process sees (<see cref="Environment.ProcessorCount"/>).</summary>
    public int LogicalProcessors { get; init; }

    /// <summary>The torch intra-op thread count the process ran with (<c>torch.get_num_threads()</c>; <c>superalign run --threads</c>).</summary>
    public int TorchThreads { get; init; }

    /// <summary>The operating system (<see cref="RuntimeInformation.OSDescription"/>).</summary>
    public string OperatingSystem { get; init; } = Unknown;

    /// <summary>The .NET runtime (<see cref="RuntimeInformation.FrameworkDescription"/>, e.g. <c>.NET 10.0.0</c>).</summary>
    public string DotNet { get; init; } = Unknown;

    /// <summary>TorchSharp's version (of its assembly).</summary>
    public string TorchSharp { get; init; } = Unknown;

    /// <summary>The libtorch version TorchSharp was built for and loads (<c>torch.__version__</c>).</summary>
    public string LibTorch { get; init; } = Unknown;

    /// <summary>Superalign's version, without the commit (e.g. <c>0.1.0</c>).</summary>
    public string SuperalignVersion { get; init; } = Unknown;

    /// <summary>The git commit Superalign was built from (40 hex digits), or <see cref="Unknown"/> for a build outside a git clone.</summary>
    public string SuperalignCommit { get; init; } = Unknown;

    /// <summary>When the record was captured (UTC).</summary>
    public DateTimeOffset TimeUtc { get; init; }

    /// <summary>
    /// The current process's provenance. The torch thread count is read now, so capture it after
    /// <c>torch.set_num_threads</c>; reading it loads libtorch.
    /// </summary>
    public static RunProvenance Capture()
    {
        var (version, commit) = SplitInformationalVersion(typeof(RunProvenance).Assembly);
        return new RunProvenance
        {
            CpuModel = Cpu.Value,
            VectorExtensions = Vectors(),
            LogicalProcessors = Environment.ProcessorCount,
            TorchThreads = TorchThreadCount(),
            OperatingSystem = RuntimeInformation.OSDescription.Trim(),
            DotNet = RuntimeInformation.FrameworkDescription,
            TorchSharp = SplitInformationalVersion(typeof(global::TorchSharp.torch).Assembly).Version,
            LibTorch = LibTorchVersion(),
            SuperalignVersion = version,
            SuperalignCommit = commit,
            TimeUtc = DateTimeOffset.UtcNow,
        };
    }

    /// <summary>Whether <paramref name="other"/> was captured in the same environment: every field equal except <see cref="TimeUtc"/>.</summary>
    public bool SameEnvironment(RunProvenance other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return this with { TimeUtc = default } == other with { TimeUtc = default };
    }

    /// <summary>
    /// One line for a table's caption: CPU (logical processors), torch threads, OS, .NET, TorchSharp, libtorch and
    /// Superalign with its short commit, without the time.
    /// </summary>
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{CpuModel} ({VectorExtensions}, {LogicalProcessors} logical processors), {TorchThreads} torch thread{(TorchThreads == 1 ? "" : "s")}, {OperatingSystem}, {DotNet}, " +
        $"TorchSharp {TorchSharp}, libtorch {LibTorch}, Superalign {SuperalignVersion} (commit {(SuperalignCommit.Length >= 7 && SuperalignCommit != Unknown ? SuperalignCommit[..7] : SuperalignCommit)})");

    private static readonly Lazy<string> Cpu = new(ReadCpuModel);

    /// <summary>The first <c>model name</c> line of <paramref name="cpuinfo"/> (the text of <c>/proc/cpuinfo</c>), or null.</summary>
    internal static string? CpuModelFromCpuInfo(string cpuinfo)
    {
        foreach (var line in cpuinfo.Split('\n'))
        {
            int colon = line.IndexOf(':');
            if (colon > 0 && line[..colon].Trim() is "model name" or "Model name" && line[(colon + 1)..].Trim() is { Length: > 0 } model)
                return string.Join(' ', model.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        }
        return null;
    }

    private static string ReadCpuModel()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo") && CpuModelFromCpuInfo(File.ReadAllText("/proc/cpuinfo")) is { } model) return model;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Fall through to the architecture.
        }
        return $"{RuntimeInformation.ProcessArchitecture} (model unknown)";
    }

    /// <summary>The version and commit of an assembly's informational version <c>1.2.3+sha</c> (the SDK appends the git commit when it builds in a clone).</summary>
    internal static (string Version, string Commit) SplitInformationalVersion(Assembly assembly)
    {
        string? text = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        if (string.IsNullOrWhiteSpace(text)) return (assembly.GetName().Version?.ToString() ?? Unknown, Unknown);
        int plus = text.IndexOf('+');
        if (plus < 0) return (text, Unknown);
        string commit = text[(plus + 1)..];
        return (text[..plus], commit.Length > 0 && commit.All(char.IsAsciiHexDigit) ? commit.ToLowerInvariant() : Unknown);
    }

    private static string Vectors() =>
        System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? "AVX-512"
        : System.Runtime.Intrinsics.X86.Avx2.IsSupported ? "AVX2"
        : System.Runtime.Intrinsics.X86.Avx.IsSupported ? "AVX"
        : System.Runtime.Intrinsics.X86.Sse42.IsSupported ? "SSE4.2"
        : System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported ? "AdvSimd"
        : "none";

    private static int TorchThreadCount()
    {
        try
        {
            return global::TorchSharp.torch.get_num_threads();
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or NotSupportedException or InvalidOperationException)
        {
            return 0;
        }
    }

    private static string LibTorchVersion()
    {
        try
        {
            return global::TorchSharp.torch.__version__ is { Length: > 0 } v ? v : Unknown;
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or NotSupportedException or InvalidOperationException)
        {
            return Unknown;
        }
    }
}
