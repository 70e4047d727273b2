using System.Globalization;

namespace Superalign.Samples;

/// <summary>
/// The sample programs' command line: <c>--name value</c> pairs and <c>--flag</c> switches, and the rule every sample
/// follows: a bad argument, a value the protocol's options reject, or an output directory that cannot be written ends
/// the program before any work with ONE line on stderr that names the option and what is allowed, and exit code 2;
/// <c>--help</c> prints the usage and exits with 0.
/// </summary>
/// <remarks>
/// A sample parses with <see cref="ParseOrExit"/>, reads every value and builds and validates its protocol options
/// inside <see cref="OrExit{T}"/> (which turns an <see cref="ArgumentException"/> or <see cref="FormatException"/> into
/// that one line), then checks its output directory with <see cref="OutputDirectoryOrExit"/>, and only then starts
/// TorchSharp and the work.
/// </remarks>
public sealed class SampleArguments
{
    private readonly Dictionary<string, string?> _values;
    private readonly Dictionary<string, string> _bindings = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _known;
    private readonly string _usage;
    private string _program = "sample";

    private SampleArguments(Dictionary<string, string?> values, string usage, HashSet<string> known)
    {
        _values = values;
        _usage = usage;
        _known = known;
    }

    /// <summary>Parses <paramref name="args"/>; <paramref name="usage"/> lists the accepted options (every <c>--name</c>
    /// in it is accepted, as are <c>--help</c> and <c>-h</c>) and is quoted in error messages.</summary>
    /// <exception cref="ArgumentException">An argument is not an option, names an option the usage does not list, or
    /// repeats an option.</exception>
    public static SampleArguments Parse(string[] args, string usage)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(usage);
        var known = new HashSet<string>(KnownNames(usage), StringComparer.OrdinalIgnoreCase);
        string options = known.Count == 0 ? "this program takes no options (only --help)" : $"Options: {usage}";
        known.Add("help");
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "-h")
            {
                values["help"] = null;
                continue;
            }
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || args[i].Length == 2)
                throw new ArgumentException($"Unexpected argument '{args[i]}'; {options}.", nameof(args));
            string name = args[i][2..];
            if (!known.Contains(name))
                throw new ArgumentException($"Unknown option '{args[i]}'; {options}.", nameof(args));
            if (values.ContainsKey(name) && !name.Equals("help", StringComparison.OrdinalIgnoreCase))
                throw new ArgumentException($"--{name} is given twice; give each option once.", name);
            bool hasValue = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal);
            values[name] = hasValue ? args[++i] : null;
        }
        return new SampleArguments(values, usage, known);
    }

    /// <summary>
    /// For a sample's entry point: parses <paramref name="args"/> as <see cref="Parse"/> does; on <c>--help</c> prints the
    /// usage and exits with 0, on a bad argument prints one line to stderr and exits with 2.
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
            Console.Error.WriteLine($"{program}: {OneLine(e)}");
            Environment.Exit(2);
            throw; // unreachable: Exit ends the process
        }
        if (arguments.HelpRequested)
        {
            Console.WriteLine(usage.Length == 0 ? $"usage: {program}" : $"usage: {program} [{usage}]");
            Environment.Exit(0);
        }
        arguments._program = program;
        return arguments;
    }

    /// <summary>
    /// Says which command-line option sets the option property <paramref name="property"/> of a protocol, so that the
    /// error line of a value the protocol rejects starts with <c>--option:</c>. Properties whose kebab-case name is an
    /// option (<c>Seeds</c> and <c>--seeds</c>, <c>BatchBudget</c> and <c>--batch-budget</c>) need no binding.
    /// </summary>
    /// <returns>This instance, for chaining.</returns>
    public SampleArguments Bind(string property, string option)
    {
        ArgumentNullException.ThrowIfNull(property);
        ArgumentNullException.ThrowIfNull(option);
        _bindings[property] = option.TrimStart('-');
        return this;
    }

    /// <summary>
    /// Runs <paramref name="read"/>, which turns option values into settings and validates them (call the protocol
    /// options' <c>Validate()</c> in it); a bad value (an <see cref="ArgumentException"/>, including
    /// <see cref="ArgumentOutOfRangeException"/>, or a <see cref="FormatException"/>) prints <see cref="ErrorLine"/> to
    /// stderr and exits with 2 instead of ending in a stack trace.
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
            Console.Error.WriteLine(ErrorLine(e));
            Environment.Exit(2);
            throw; // unreachable: Exit ends the process
        }
    }

    /// <summary>
    /// The text of <c>--name</c> (or <paramref name="fallback"/>) as a directory the program can write: created, then
    /// probed by writing and deleting a file. Call it after the other checks and before the work, so that an unusable
    /// path fails at once rather than after the training; on failure prints one line and exits with 2.
    /// </summary>
    public string OutputDirectoryOrExit(string name, string fallback) => OrExit(() => OutputDirectory(name, fallback));

    /// <summary>The checks of <see cref="OutputDirectoryOrExit"/>, throwing instead of exiting.</summary>
    /// <exception cref="ArgumentException">The directory cannot be created or written; the message names the option.</exception>
    public string OutputDirectory(string name, string fallback)
    {
        string directory = Text(name, fallback);
        try
        {
            if (directory.Trim().Length == 0) throw new IOException("the path is empty");
            Directory.CreateDirectory(directory);
            string probe = Path.Combine(directory, $".superalign-write-probe-{Environment.ProcessId}");
            File.WriteAllText(probe, "probe");
            File.Delete(probe);
            return directory;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new ArgumentException($"--{name}: cannot write results to '{directory}' ({OneLine(e)}); give a directory that can be created and written.", name);
        }
    }

    /// <summary>
    /// The device named by <c>--name</c> (or <paramref name="fallback"/>): <c>auto</c>, <c>cpu</c>, <c>cuda</c> or
    /// <c>cuda:N</c>, any case. A CUDA device is asked of <paramref name="cudaAvailable"/> (e.g.
    /// <c>() =&gt; torch.cuda.is_available()</c>), called only when one is named; on a bad or unavailable device prints
    /// one line and exits with 2.
    /// </summary>
    public string DeviceOrExit(string name, string fallback, Func<bool> cudaAvailable)
    {
        ArgumentNullException.ThrowIfNull(cudaAvailable);
        string device = OrExit(() => Device(name, fallback));
        if (device.StartsWith("cuda", StringComparison.OrdinalIgnoreCase))
            OrExit(() => cudaAvailable() ? device : throw new ArgumentException($"--{name} {device}: no CUDA device or CUDA backend here; use cpu or auto.", name));
        return device;
    }

    /// <summary>The device name of <see cref="DeviceOrExit"/>, checked for its form only.</summary>
    /// <exception cref="ArgumentException">Not <c>auto</c>, <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</exception>
    public string Device(string name, string fallback)
    {
        string device = Text(name, fallback).Trim();
        bool ok = device.Equals("auto", StringComparison.OrdinalIgnoreCase) || device.Equals("cpu", StringComparison.OrdinalIgnoreCase)
            || System.Text.RegularExpressions.Regex.IsMatch(device, "^cuda(:[0-9]{1,3})?$", System.Text.RegularExpressions.RegexOptions.IgnoreCase);
        return ok ? device.ToLowerInvariant() : throw new ArgumentException($"--{name} must be auto, cpu, cuda or cuda:N; got '{device}'.", name);
    }

    /// <summary>
    /// The one line a rejected argument prints: the program, the option (from the exception's parameter name through
    /// <see cref="Bind"/> or the kebab-case rule, unless the message already names it) and the message, without the
    /// <c>(Parameter '…')</c> and <c>Actual value was …</c> tails .NET adds.
    /// </summary>
    public string ErrorLine(Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        string message = OneLine(error);
        if (error is ArgumentException { ParamName: { } parameter } && Option(parameter) is { } option && !message.Contains($"--{option}", StringComparison.OrdinalIgnoreCase))
            message = $"--{option}: {message}";
        return $"{_program}: {message}";
    }

    private string? Option(string parameter)
    {
        if (_bindings.TryGetValue(parameter, out var bound)) return bound;
        if (_known.Contains(parameter) && !parameter.Equals("help", StringComparison.OrdinalIgnoreCase)) return parameter.ToLowerInvariant();
        string kebab = System.Text.RegularExpressions.Regex.Replace(parameter, "(?<=[a-z0-9])([A-Z])", "-$1").ToLowerInvariant();
        return _known.Contains(kebab) ? kebab : null;
    }

    /// <summary>An exception's message on one line, without the tails .NET adds to argument exceptions.</summary>
    private static string OneLine(Exception e)
    {
        string message = e.Message;
        if (e is ArgumentOutOfRangeException { ActualValue: not null })
        {
            int tail = message.LastIndexOf(Environment.NewLine, StringComparison.Ordinal);
            if (tail >= 0) message = message[..tail];
        }
        if (e is ArgumentException { ParamName: { } name })
            message = message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal);
        return string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    /// <summary>Parses <paramref name="text"/> as a member of <typeparamref name="TEnum"/> (any case, trimmed).</summary>
    /// <exception cref="ArgumentException">No member has that name; the message names the option and the members.</exception>
    public static TEnum ParseEnum<TEnum>(string option, string text) where TEnum : struct, Enum =>
        Enum.TryParse<TEnum>(text.Trim(), ignoreCase: true, out var value) && Enum.IsDefined(value)
            ? value
            : throw new ArgumentException($"--{option}: unknown value '{text}'; one of {string.Join(", ", Enum.GetNames<TEnum>())}.", option);

    /// <summary>Whether <c>--help</c> or <c>-h</c> was given.</summary>
    public bool HelpRequested => _values.ContainsKey("help");

    /// <summary>The option names (without <c>--</c>) that <paramref name="usage"/> lists.</summary>
    public static IEnumerable<string> KnownNames(string usage) =>
        System.Text.RegularExpressions.Regex.Matches(usage, @"--([A-Za-z0-9][A-Za-z0-9-]*)").Select(m => m.Groups[1].Value);

    /// <summary>Whether the switch <c>--name</c> was given.</summary>
    /// <exception cref="ArgumentException">The switch was given a value (a switch takes none).</exception>
    public bool Flag(string name)
    {
        if (!_values.TryGetValue(name, out var value)) return false;
        return value is null ? true : throw new ArgumentException($"--{name} is a switch and takes no value; got '{value}'.", name);
    }

    /// <summary>The text of <c>--name</c>, or <paramref name="fallback"/> when the option is absent.</summary>
    /// <exception cref="ArgumentException">The option is given without a value.</exception>
    public string Text(string name, string fallback) => Optional(name) ?? fallback;

    /// <summary>The text of <c>--name</c>, or null when the option is absent.</summary>
    /// <exception cref="ArgumentException">The option is given without a value.</exception>
    public string? Optional(string name)
    {
        if (!_values.TryGetValue(name, out var value)) return null;
        return value ?? throw new ArgumentException($"--{name} needs a value. Options: {_usage}.", name);
    }

    /// <summary>
    /// The text of <c>--name</c> (or <paramref name="fallback"/>), which must be one of <paramref name="allowed"/>
    /// (any case); returned in lower case.
    /// </summary>
    /// <exception cref="ArgumentException">Another value; the message names the option and the allowed values.</exception>
    public string Choice(string name, string fallback, params string[] allowed)
    {
        string value = Text(name, fallback).Trim().ToLowerInvariant();
        return allowed.Contains(value, StringComparer.OrdinalIgnoreCase)
            ? value
            : throw new ArgumentException($"--{name} must be one of {string.Join(", ", allowed)}; got '{Text(name, fallback)}'.", name);
    }

    /// <summary>The integer value of <c>--name</c>, or <paramref name="fallback"/>.</summary>
    /// <exception cref="ArgumentException">The value is not an integer (or does not fit one).</exception>
    public int Int(string name, int fallback) => Parse(name, fallback, s => int.Parse(s, NumberStyles.Integer, CultureInfo.InvariantCulture));

    /// <summary>The integer value of <c>--name</c>, or <paramref name="fallback"/>; it must lie in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    /// <exception cref="ArgumentException">The value is not an integer, or is out of range; the message names the option and the range.</exception>
    public int Int(string name, int fallback, int min, int max = int.MaxValue)
    {
        int value = Int(name, fallback);
        if (value < min || value > max)
            throw new ArgumentException(max == int.MaxValue
                ? $"--{name} must be at least {min}; got {value}."
                : $"--{name} must be in [{min}, {max}]; got {value}.", name);
        return value;
    }

    /// <summary>The number given as <c>--name</c>, or <paramref name="fallback"/>.</summary>
    /// <exception cref="ArgumentException">The value is not a finite number.</exception>
    public double Double(string name, double fallback)
    {
        double value = Parse(name, fallback, s => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture));
        return double.IsFinite(value) || !_values.ContainsKey(name)
            ? value
            : throw new ArgumentException($"--{name} needs a finite number; got '{_values[name]}'.", name);
    }

    private T Parse<T>(string name, T fallback, Func<string, T> parse)
    {
        if (!_values.TryGetValue(name, out var text)) return fallback;
        try
        {
            return parse(text ?? throw new FormatException("no value"));
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            string what = typeof(T) == typeof(int) ? "a whole number" : "a number";
            throw new ArgumentException($"--{name} needs {what}; got '{text}'. Options: {_usage}.", name);
        }
    }
}
