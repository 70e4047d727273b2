using System.Text.Encodings.Web;
using System.Text.Json;

using Superalign.Experiments.Tasks;

namespace Superalign.Experiments.Protocols;

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

    /// <summary>A competence objective name <see cref="Objectives.Competence.CompetenceObjectives.Create"/> accepts (trimmed, any case).</summary>
    public static void CompetenceLoss(string? loss, string option, string owner)
    {
        if (Objectives.Competence.CompetenceObjectives.Normalize(loss) is null)
            throw new ArgumentOutOfRangeException(option, loss,
                $"{owner}.{option} must be one of {string.Join(", ", Objectives.Competence.CompetenceObjectives.Names)}; got '{loss}'.");
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

    /// <summary>
    /// Every trunk valid and no repeats; errors name <paramref name="option"/> (a trunk's own range error is wrapped so
    /// that the message says which option holds it).
    /// </summary>
    public static void Trunks(IReadOnlyList<TrunkSpec>? trunks, string option, string owner)
    {
        NotEmpty(trunks, option, owner);
        foreach (var spec in trunks!)
        {
            if (spec is null) throw new ArgumentOutOfRangeException(option, $"{owner}.{option} must not hold null.");
            try
            {
                spec.Validate();
            }
            catch (ArgumentOutOfRangeException e)
            {
                throw new ArgumentOutOfRangeException(option, $"{owner}.{option}: {e.Message}");
            }
        }
        Distinct(trunks, option, owner);
    }

    /// <summary>A device name <see cref="Devices.Parse"/> reads: <c>auto</c>, <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>.</summary>
    public static void Device(string? device, string option, string owner)
    {
        if (string.IsNullOrWhiteSpace(device))
            throw new ArgumentOutOfRangeException(option, device, $"{owner}.{option} must name a device (auto, cpu, cuda, cuda:N).");
    }

    /// <summary>
    /// The user-data options of the language-model protocols: both files or neither, each an existing file, the held-out
    /// share in (0, 1) and a known competence metric. (The rows are read and checked when the protocol is created.)
    /// </summary>
    public static void UserLmData(string? sftData, string? preferenceData, double heldOutFraction, CompletionMetric metric, string owner)
    {
        if ((sftData is null) != (preferenceData is null))
            throw new ArgumentException($"{owner}.SftData and {owner}.PreferenceData go together: competence is trained and measured on the SFT file, conformity on the preference file; set both or neither.",
                sftData is null ? "SftData" : "PreferenceData");
        foreach (var (path, option) in new[] { (sftData, "SftData"), (preferenceData, "PreferenceData") })
        {
            if (path is null) continue;
            if (string.IsNullOrWhiteSpace(path)) throw new ArgumentException($"{owner}.{option} is empty; give a JSONL file or leave it null.", option);
            if (!File.Exists(path)) throw new ArgumentException($"{owner}.{option}: no file at '{path}' (relative paths are relative to {Environment.CurrentDirectory}).", option);
        }
        Fraction(heldOutFraction, "HeldOutFraction", owner);
        if (!Enum.IsDefined(metric))
            throw new ArgumentOutOfRangeException("CompetenceMetric", metric, $"{owner}.CompetenceMetric must be one of {string.Join(", ", Enum.GetNames<CompletionMetric>())}.");
    }
}
