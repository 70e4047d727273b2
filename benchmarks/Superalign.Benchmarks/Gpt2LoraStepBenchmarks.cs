using BenchmarkDotNet.Attributes;
using Superalign.Students.Adapters;
using TorchSharp;

namespace Superalign.Benchmarks;

/// <summary>
/// LoRA against full fine-tuning at GPT-2-small shape (124 M parameters, random weights, sequence length 128, the
/// fixture of <see cref="Gpt2StepBenchmarks"/>): the competence step and the alternating SFT + DPO step, with LoRA
/// r 8, α 16 on <c>c_attn</c> (PEFT's GPT-2 default target) or with every parameter trained. Each parameter case runs
/// in its own process; the peak resident memory of setup and, separately, of the steps (VmHWM, native allocations
/// included, reset after setup through /proc/self/clear_refs) are printed as <c>// lora=…</c> lines, the figures
/// docs/performance.md quotes. Run with few iterations: a step takes seconds.
/// </summary>
[MemoryDiagnoser]
public class Gpt2LoraStepBenchmarks
{
    private StepFixture _fixture = null!;

    /// <summary>Whether LoRA adapters are attached (only they train).</summary>
    [Params(false, true)]
    public bool Lora { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(Environment.ProcessorCount);
        var (dim, layers, seq) = StepCost.ParseLm("d768-L12-T128");
        _fixture = StepFixture.Gpt2(dim, layers, seq, StepCost.Gpt2Pairs, flat: true,
            lora: Lora ? StepFixture.Gpt2Lora : null);
        long trainable = _fixture.Student.Parameters().Sum(p => p.numel());
        Console.WriteLine($"// lora={Lora}: trainable scalars {trainable:N0}; gradient + AdamW state {trainable * 4 * 3 / 1024.0 / 1024.0:F1} MiB; " +
                          $"setup peak RSS {PeakResidentMiB():N0} MiB, resident after setup {ResidentMiB("VmRSS:"):N0} MiB");
        // From here the peak counts the steps alone (and what setup left resident): Linux resets VmHWM to the current RSS.
        if (File.Exists("/proc/self/clear_refs")) File.WriteAllText("/proc/self/clear_refs", "5");
    }

    [Benchmark(Baseline = true)]
    public double Competence() => _fixture.Competence().Loss;

    [Benchmark]
    public double Alternating() => _fixture.Alternating().Loss;

    [GlobalCleanup]
    public void Cleanup()
    {
        Console.WriteLine($"// lora={Lora}: peak RSS during the steps {PeakResidentMiB():N0} MiB");
        _fixture.Dispose();
    }

    /// <summary>The process's peak resident set (VmHWM of /proc/self/status) in MiB; NaN where the file does not exist.</summary>
    private static double PeakResidentMiB() => ResidentMiB("VmHWM:");

    /// <summary>A memory line of /proc/self/status (<c>VmHWM:</c>, <c>VmRSS:</c>) in MiB; NaN where the file does not exist.</summary>
    private static double ResidentMiB(string field)
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status)) return double.NaN;
        var line = File.ReadLines(status).FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
        return line is null ? double.NaN : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
    }
}
