using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Superalign.Students;

/// <summary>The nonlinearity between hidden layers.</summary>
public enum Activation
{
    /// <summary>Rectified linear unit.</summary>
    ReLU,

    /// <summary>Gaussian error linear unit (exact, erf-based).</summary>
    GELU,
}

/// <summary>Option checks that throw <see cref="ArgumentOutOfRangeException"/> naming the option and its range.</summary>
internal static class OptionCheck
{
    public static void AtLeast(long value, long min, string option)
    {
        if (value < min)
            throw new ArgumentOutOfRangeException(option, value, $"{option} must be at least {min}; got {value}.");
    }

    public static void InRange(long value, long min, long max, string option)
    {
        if (value < min || value > max)
            throw new ArgumentOutOfRangeException(option, value, $"{option} must be in [{min}, {max}]; got {value}.");
    }

    /// <summary>A dropout probability: finite and in [0, 1).</summary>
    public static void Probability(double value, string option)
    {
        if (!(value >= 0 && value < 1))
            throw new ArgumentOutOfRangeException(option, value, $"{option} must be in [0, 1); got {value}.");
    }
}

/// <summary>Deterministic, side-effect-free parameter initialisation for the reference students.</summary>
/// <remarks>
/// TorchSharp modules initialise themselves from the global CPU generator when they are constructed. The students
/// build their modules on the CPU inside <see cref="Build{T}"/>, which saves and restores that generator's state, and
/// then overwrite every parameter from a local <see cref="Generator"/> seeded with the student's <c>Seed</c>. The
/// initial weights therefore depend only on the options (the same on every device, as they are moved afterwards), and
/// constructing a student neither reads nor advances the global random stream.
/// </remarks>
internal static class SeededInit
{
    /// <summary>Runs <paramref name="build"/> (on the CPU) with a generator seeded by <paramref name="seed"/>.</summary>
    public static T Build<T>(long seed, Func<Generator, T> build)
    {
        using var saved = random.get_rng_state();
        using var generator = new Generator(unchecked((ulong)seed), CPU);
        try
        {
            using var _ = no_grad();
            return build(generator);
        }
        finally
        {
            random.set_rng_state(saved);
        }
    }

    // The in-place Tensor methods are used because TorchSharp 0.107's nn.init.uniform_/normal_ ignore their
    // generator argument and draw from the global generator.

    /// <summary>PyTorch's default <c>nn.Linear</c> initialisation: weight and bias uniform in ±1/√fan_in.</summary>
    public static void Default(Linear layer, Generator generator)
    {
        double bound = 1.0 / Math.Sqrt(layer.in_features);
        layer.weight!.uniform_(-bound, bound, generator);
        layer.bias?.uniform_(-bound, bound, generator);
    }

    /// <summary>Weight normal with standard deviation <paramref name="std"/>, bias zero (GPT-2 style).</summary>
    public static void Normal(Linear layer, double std, Generator generator)
    {
        layer.weight!.normal_(0, std, generator);
        layer.bias?.zero_();
    }

    /// <summary>Weight and bias zero (a zero-initialised classification head, as in Burns et al. 2023).</summary>
    public static void Zero(Linear layer)
    {
        layer.weight!.zero_();
        layer.bias?.zero_();
    }
}

/// <summary>Input checks shared by the classifier students.</summary>
internal static class InputCheck
{
    public static void Features(Tensor features, long expected, string parameter)
    {
        ArgumentNullException.ThrowIfNull(features, parameter);
        if (features.dim() != 2 || features.shape[1] != expected)
            throw new ArgumentException($"{parameter} must have shape [B, {expected}]; got [{string.Join(", ", features.shape)}].", parameter);
    }
}
