using System.Globalization;

namespace Superalign.Samples;

/// <summary>The sample programs' command line: <c>--name value</c> pairs and <c>--flag</c> switches.</summary>
public sealed class SampleArguments
{
    private readonly Dictionary<string, string?> _values;
    private readonly string _usage;

    private SampleArguments(Dictionary<string, string?> values, string usage)
    {
        _values = values;
        _usage = usage;
    }

    /// <summary>Parses <paramref name="args"/>; <paramref name="usage"/> lists the accepted options for error messages.</summary>
    /// <exception cref="ArgumentException">An argument is not an option.</exception>
    public static SampleArguments Parse(string[] args, string usage)
    {
        ArgumentNullException.ThrowIfNull(args);
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || args[i].Length == 2)
                throw new ArgumentException($"Unexpected argument '{args[i]}'. Options: {usage}.", nameof(args));
            bool hasValue = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal);
            values[args[i][2..]] = hasValue ? args[++i] : null;
        }
        return new SampleArguments(values, usage);
    }

    /// <summary>Whether the switch <c>--name</c> was given.</summary>
    public bool Flag(string name) => _values.ContainsKey(name);

    /// <summary>The text of <c>--name</c>, or <paramref name="fallback"/>.</summary>
    public string Text(string name, string fallback) => _values.TryGetValue(name, out var v) && v is not null ? v : fallback;

    /// <summary>The text of <c>--name</c>, or null when absent.</summary>
    public string? Optional(string name) => _values.TryGetValue(name, out var v) ? v : null;

    /// <summary>The integer value of <c>--name</c>, or <paramref name="fallback"/>.</summary>
    /// <exception cref="ArgumentException">The value is not an integer.</exception>
    public int Int(string name, int fallback) => Parse(name, fallback, s => int.Parse(s, CultureInfo.InvariantCulture));

    /// <summary>The number given as <c>--name</c>, or <paramref name="fallback"/>.</summary>
    /// <exception cref="ArgumentException">The value is not a number.</exception>
    public double Double(string name, double fallback) => Parse(name, fallback, s => double.Parse(s, CultureInfo.InvariantCulture));

    private T Parse<T>(string name, T fallback, Func<string, T> parse)
    {
        if (!_values.TryGetValue(name, out var text)) return fallback;
        try
        {
            return parse(text ?? throw new FormatException("no value"));
        }
        catch (FormatException)
        {
            throw new ArgumentException($"--{name} needs a {typeof(T).Name} value; got '{text}'. Options: {_usage}.", name);
        }
    }
}
