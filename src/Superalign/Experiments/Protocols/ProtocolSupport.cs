using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Superalign.Experiments.Protocols;

/// <summary>Where a protocol stands, reported to an <see cref="IProgress{T}"/> between units of work.</summary>
/// <param name="Protocol">The protocol's name (e.g. <c>weak-to-strong</c>).</param>
/// <param name="Stage">What just finished (e.g. <c>seed 2: strong ceiling trained</c>).</param>
/// <param name="Done">Units of work finished.</param>
/// <param name="Total">Units of work planned.</param>
public sealed record ProtocolProgress(string Protocol, string Stage, int Done, int Total)
{
    /// <summary><c>Done / Total</c>, in [0, 1].</summary>
    public double Fraction => Total <= 0 ? 1 : Math.Clamp((double)Done / Total, 0, 1);

    /// <inheritdoc />
    public override string ToString() => $"[{Protocol} {Done}/{Total}] {Stage}";
}

/// <summary>JSON output of protocol results (indented, camelCase, NaN and infinities written as strings).</summary>
public static class ProtocolJson
{
    /// <summary>The serializer settings used for every result.</summary>
    public static JsonSerializerOptions Options { get; } = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    /// <summary>The result as JSON text.</summary>
    public static string Serialize<T>(T result) => JsonSerializer.Serialize(result, Options);

    /// <summary>Reads a result written by <see cref="Write{T}"/>.</summary>
    public static T Deserialize<T>(string json) =>
        JsonSerializer.Deserialize<T>(json, Options) ?? throw new JsonException($"The JSON text holds null, not a {typeof(T).Name}.");

    /// <summary>
    /// Writes the result to <paramref name="path"/> (creating its folder) through a temporary file that replaces the
    /// target only when complete, so an interrupted run never leaves a truncated file.
    /// </summary>
    public static void Write<T>(T result, string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temporary = full + ".tmp";
        File.WriteAllText(temporary, Serialize(result));
        File.Move(temporary, full, overwrite: true);
    }
}

/// <summary>Option checks for protocols: each throws <see cref="ArgumentOutOfRangeException"/> naming the option.</summary>
internal static class ProtocolCheck
{
    public static void AtLeast(long value, long min, string option, string owner)
    {
        if (value < min)
            throw new ArgumentOutOfRangeException(option, value, $"{owner}.{option} must be at least {min}; got {value}.");
    }

    public static void Fraction(double value, string option, string owner, bool allowZero = false, bool allowOne = false)
    {
        bool ok = double.IsFinite(value) && (allowZero ? value >= 0 : value > 0) && (allowOne ? value <= 1 : value < 1);
        if (!ok)
            throw new ArgumentOutOfRangeException(option, value,
                $"{owner}.{option} must be in {(allowZero ? "[" : "(")}0, 1{(allowOne ? "]" : ")")}; got {value}.");
    }

    public static void Positive(double value, string option, string owner)
    {
        if (!(double.IsFinite(value) && value > 0))
            throw new ArgumentOutOfRangeException(option, value, $"{owner}.{option} must be finite and > 0; got {value}.");
    }

    public static void NotEmpty<T>(IReadOnlyList<T>? values, string option, string owner)
    {
        if (values is null || values.Count == 0)
            throw new ArgumentOutOfRangeException(option, $"{owner}.{option} must hold at least one value.");
    }

    /// <summary>The tiny LM's shape: positive sizes, the width divisible by the heads.</summary>
    public static void LanguageModel(int modelDim, int layers, int heads, string owner)
    {
        AtLeast(modelDim, 1, "ModelDim", owner);
        AtLeast(layers, 1, "Layers", owner);
        AtLeast(heads, 1, "Heads", owner);
        if (modelDim % heads != 0)
            throw new ArgumentOutOfRangeException("ModelDim", modelDim, $"{owner}.ModelDim must be divisible by Heads ({heads}); got {modelDim}.");
    }

    /// <summary>A competence loss name of <see cref="Objectives.Competence.CompetenceObjectives.Names"/>, surrounding spaces ignored as the factory does.</summary>
    public static void CompetenceLoss(string? loss, string option, string owner)
    {
        var names = Objectives.Competence.CompetenceObjectives.Names;
        if (loss is null || !names.Contains(loss.Trim().ToLowerInvariant()))
            throw new ArgumentOutOfRangeException(option, loss, $"{owner}.{option} must be one of {string.Join(", ", names)}; got '{loss}'.");
    }

    /// <summary>A conformity loss name <see cref="Objectives.Conformity.ConformityObjectives.Create"/> accepts (trimmed, any case, TRL's aliases).</summary>
    public static void ConformityLoss(string? loss, string option, string owner)
    {
        if (Objectives.Conformity.ConformityObjectives.Normalize(loss) is null)
            throw new ArgumentOutOfRangeException(option, loss,
                $"{owner}.{option} must be one of {string.Join(", ", Objectives.Conformity.ConformityObjectives.Names)}; got '{loss}'.");
    }

    public static void Distinct<T>(IReadOnlyList<T> values, string option, string owner)
    {
        if (values.Distinct().Count() != values.Count)
            throw new ArgumentOutOfRangeException(option, $"{owner}.{option} must not repeat a value; got [{string.Join(", ", values)}].");
    }
}
