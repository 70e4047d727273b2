using Microsoft.Extensions.Logging.Abstractions;
using Superalign.Experiments.Metrics;
using Superalign.Experiments.Tasks;
using TorchSharp;
using static TorchSharp.torch;

namespace Superalign.Experiments.Protocols;

/// <summary>
/// Options of <see cref="Sandwiching"/>; validated when the protocol is built (an invalid value throws
/// <see cref="ArgumentOutOfRangeException"/> naming the option). The defaults run in seconds on two CPU cores with
/// one TorchSharp thread (<c>torch.set_num_threads(1)</c>); the default thread count can be many times slower for
/// models this small.
/// </summary>
public sealed record SandwichingOptions : IProtocolOptions
{
    /// <summary>The built-in sparse-evidence task (its hidden rule is the same for every seed).</summary>
    public SparseEvidenceTaskOptions Task { get; init; } = new();

    /// <summary>Seeds: each draws its own training and test examples, initial weights and random reveals. At least one, distinct.</summary>
    public IReadOnlyList<int> Seeds { get; init; } = [0, 1, 2];

    /// <summary>Training examples per seed (judge and expert train on the same ones). At least 1.</summary>
    public int TrainSize { get; init; } = 4000;

    /// <summary>Held-out test examples per seed, on which every condition is evaluated. At least 1.</summary>
    public int TestSize { get; init; } = 1000;

    /// <summary>Features the judge sees, <c>k</c>, in every condition. In <c>[1, Task.Features]</c>.</summary>
    public int Reveals { get; init; } = 4;

    /// <summary>Hidden width of the judge's MLP. At least 1.</summary>
    public int JudgeHiddenWidth { get; init; } = 32;

    /// <summary>Hidden layers of the judge's MLP. In <c>[0, 64]</c>.</summary>
    public int JudgeDepth { get; init; } = 1;

    /// <summary>Hidden width of the expert's MLP. At least 1.</summary>
    public int ExpertHiddenWidth { get; init; } = 64;

    /// <summary>Hidden layers of the expert's MLP. In <c>[0, 64]</c>.</summary>
    public int ExpertDepth { get; init; } = 2;

    /// <summary>Optimizer steps of the judge (each on a fresh random reveal of every example in its batch). At least 1.</summary>
    public int JudgeSteps { get; init; } = 1500;

    /// <summary>Optimizer steps of the expert. At least 1.</summary>
    public int ExpertSteps { get; init; } = 600;

    /// <summary>Mini-batch size of both trainings. At least 1.</summary>
    public int BatchSize { get; init; } = 128;

    /// <summary>Peak AdamW learning rate of both trainings (linear warm-up over 5% of the steps, then cosine decay). Finite and &gt; 0.</summary>
    public double LearningRate { get; init; } = 3e-3;

    /// <summary>Confidence level of the intervals, in (0, 1).</summary>
    public double ConfidenceLevel { get; init; } = 0.95;

    /// <summary>Resamples of the paired bootstrap intervals. At least 1.</summary>
    public int BootstrapResamples { get; init; } = Bootstrap.DefaultResamples;

    /// <summary>Device: <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c> or <c>auto</c> (CUDA when available).</summary>
    public string Device { get; init; } = "auto";

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        const string owner = nameof(SandwichingOptions);
        if (Task is null) throw new ArgumentOutOfRangeException(nameof(Task), $"{owner}.{nameof(Task)} must not be null.");
        Task.Validate();
        ProtocolCheck.NotEmpty(Seeds, nameof(Seeds), owner);
        ProtocolCheck.Distinct(Seeds, nameof(Seeds), owner);
        ProtocolCheck.AtLeast(TrainSize, 1, nameof(TrainSize), owner);
        ProtocolCheck.AtLeast(TestSize, 1, nameof(TestSize), owner);
        ProtocolCheck.AtLeast(Reveals, 1, nameof(Reveals), owner);
        if (Reveals > Task.Features)
            throw new ArgumentOutOfRangeException(nameof(Reveals), Reveals, $"{owner}.{nameof(Reveals)} must be at most Task.Features = {Task.Features}; got {Reveals}.");
        ProtocolCheck.AtLeast(JudgeHiddenWidth, 1, nameof(JudgeHiddenWidth), owner);
        Depth(JudgeDepth, nameof(JudgeDepth));
        ProtocolCheck.AtLeast(ExpertHiddenWidth, 1, nameof(ExpertHiddenWidth), owner);
        Depth(ExpertDepth, nameof(ExpertDepth));
        ProtocolCheck.AtLeast(JudgeSteps, 1, nameof(JudgeSteps), owner);
        ProtocolCheck.AtLeast(ExpertSteps, 1, nameof(ExpertSteps), owner);
        ProtocolCheck.AtLeast(BatchSize, 1, nameof(BatchSize), owner);
        ProtocolCheck.Positive(LearningRate, nameof(LearningRate), owner);
        ProtocolCheck.Fraction(ConfidenceLevel, nameof(ConfidenceLevel), owner);
        ProtocolCheck.AtLeast(BootstrapResamples, 1, nameof(BootstrapResamples), owner);
        ProtocolCheck.Device(Device, nameof(Device), owner);

        static void Depth(int value, string option)
        {
            if (value < 0 || value > 64)
                throw new ArgumentOutOfRangeException(option, value, $"{owner}.{option} must be in [0, 64]; got {value}.");
        }
    }
}
