using System.Globalization;

namespace Superalign.Samples;

/// <summary>The sample programs' command line: <c>--name value</c> pairs and <c>--flag</c> switches.</summary>
public sealed class SampleArguments
{
    private readonly Dictionary<string, string?> _values;
    private readonly string _usage;
    private string _program = "sample";

    private SampleArguments(Dictionary<string, string?> values, string usage)
    {
        _values = values;
        _usage = usage;
    }

    /// <summary>Parses <paramref name="args"/>; <paramref name="usage"/> lists the accepted options (every <c>--name</c>
    /// in it is accepted, as are <c>--help</c> and <c>-h</c>) and is quoted in error messages.</summary>
    /// <exception cref="ArgumentException">An argument is not an option, or names an option the usage does not list.</exception>
    public static SampleArguments Parse(string[] args, string usage)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(usage);
        var known = new HashSet<string>(KnownNames(usage), StringComparer.OrdinalIgnoreCase) { "help" };
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "-h")
            {
                values["help"] = null;
                continue;
            }
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || args[i].Length == 2)
                throw new ArgumentException($"Unexpected argument '{args[i]}'. Options: {usage}.", nameof(args));
            string name = args[i][2..];
            if (!known.Contains(name))
                throw new ArgumentException($"Unknown option '{args[i]}'. Options: {usage}.", nameof(args));
            bool hasValue = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal);
            values[name] = hasValue ? args[++i] : null;
        }
        return new SampleArguments(values, usage);
    }

    /// <summary>
    /// For a sample's entry point: parses <paramref name="args"/> as <see cref="Parse"/> does; on <c>--help</c> prints the
    /// usage and exits with 0, on a bad argument prints the error and exits with 2.
    /// </summary>
    public static SampleArguments ParseOrExit(string[] args, string program, string usage)
    {
        SampleArguments arguments;
        try
        {
            arguments = Parse(args, usage);
        }
        catch (ArgumentException e)
        {
            Exit(program, e);
            throw; // unreachable: Exit ends the process
        }
        if (arguments.HelpRequested)
        {
            Console.WriteLine($"usage: {program} [{usage}]");
            Environment.Exit(0);
        }
        arguments._program = program;
        return arguments;
    }

    /// <summary>
    /// Runs <paramref name="read"/>, which turns option values into settings; a bad value (an
    /// <see cref="ArgumentException"/> or <see cref="FormatException"/>) prints its message and exits with 2 instead of
    /// ending in a stack trace.
    /// </summary>
    public T OrExit<T>(Func<T> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        try
        {
            return read();
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            Exit(_program, e);
            throw; // unreachable: Exit ends the process
        }
    }

    /// <summary>Parses <paramref name="text"/> as a member of <typeparamref name="TEnum"/> (any case, trimmed).</summary>
    /// <exception cref="ArgumentException">No member has that name; the message names the option and the members.</exception>
    public static TEnum ParseEnum<TEnum>(string option, string text) where TEnum : struct, Enum =>
        Enum.TryParse<TEnum>(text.Trim(), ignoreCase: true, out var value) && Enum.IsDefined(value)
            ? value
            : throw new ArgumentException($"--{option}: unknown value '{text}'; one of {string.Join(", ", Enum.GetNames<TEnum>())}.", option);

    private static void Exit(string program, Exception e)
    {
        string message = e is ArgumentException { ParamName: { } name } ? e.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : e.Message;
        Console.Error.WriteLine($"{program}: {message}");
        Environment.Exit(2);
    }

    /// <summary>Whether <c>--help</c> or <c>-h</c> was given.</summary>
    public bool HelpRequested => _values.ContainsKey("help");

    /// <summary>The option names (without <c>--</c>) that <paramref name="usage"/> lists.</summary>
    public static IEnumerable<string> KnownNames(string usage) =>
        System.Text.RegularExpressions.Regex.Matches(usage, @"--([A-Za-z0-9][A-Za-z0-9-]*)").Select(m => m.Groups[1].Value);

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
            throw new ArgumentException($"--{name} needs {(typeof(T) == typeof(int) ? "an integer" : "a number")}; got '{text}'. Options: {_usage}.", name);
        }
    }
}
