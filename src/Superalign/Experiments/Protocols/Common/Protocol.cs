using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Superalign.Experiments.Protocols;

/// <summary>
/// A protocol's options: they check themselves (<see cref="Validate"/>) and serialise to and from JSON with
/// <see cref="ProtocolJson"/>, so that a run can be described by a configuration file.
/// </summary>
public interface IProtocolOptions
{
    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> (or another <see cref="ArgumentException"/>) naming the first invalid option.</summary>
    void Validate();
}

/// <summary>What a protocol run measured; written with <see cref="ProtocolJson.Write{T}"/>.</summary>
public interface IProtocolResult
{
    /// <summary>Wall time of the run in seconds: with the other timings, what differs between two runs of the same options.</summary>
    double WallSeconds { get; }
}

/// <summary>
/// An experiment protocol seen without its option and result types: what a front end (a command line, a sweep
/// runner) needs to run any protocol of <see cref="ProtocolCatalog"/> by name.
/// </summary>
public interface IProtocol
{
    /// <summary>The protocol's name (e.g. <c>weak-to-strong</c>): in progress reports, logs and the catalog.</summary>
    string Name { get; }

    /// <summary>The options in force (validated).</summary>
    IProtocolOptions Options { get; }

    /// <summary>Runs the protocol.</summary>
    /// <param name="progress">Receives a report after each unit of work.</param>
    /// <param name="cancellationToken">Checked between and during trainings.</param>
    /// <exception cref="OperationCanceledException">The run was cancelled.</exception>
    IProtocolResult Run(IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default);
}

/// <summary>An experiment protocol with its option and result types.</summary>
/// <typeparam name="TOptions">The options.</typeparam>
/// <typeparam name="TResult">The result.</typeparam>
public interface IProtocol<out TOptions, out TResult> : IProtocol
    where TOptions : IProtocolOptions
    where TResult : IProtocolResult
{
    /// <summary>The options in force (validated).</summary>
    new TOptions Options { get; }

    /// <summary>Runs the protocol.</summary>
    /// <param name="progress">Receives a report after each unit of work.</param>
    /// <param name="cancellationToken">Checked between and during trainings.</param>
    /// <exception cref="OperationCanceledException">The run was cancelled.</exception>
    new TResult Run(IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default);
}

/// <summary>
/// Base of the protocols: validates the options once, at construction, and holds the logging. Derive from it to add a
/// protocol (docs/extending.md, "Your own protocol").
/// </summary>
/// <typeparam name="TOptions">The options.</typeparam>
/// <typeparam name="TResult">The result.</typeparam>
public abstract class Protocol<TOptions, TResult> : IProtocol<TOptions, TResult>
    where TOptions : IProtocolOptions
    where TResult : IProtocolResult
{
    /// <summary>Validates <paramref name="options"/> and keeps them.</summary>
    /// <param name="name">The protocol's name.</param>
    /// <param name="options">The options.</param>
    /// <param name="loggerFactory">Optional logging: the protocol's own lines and those of the optimizers it runs.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the exception names it).</exception>
    protected Protocol(string name, TOptions options, ILoggerFactory? loggerFactory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Name = name;
        Options = options;
        LoggerFactory = loggerFactory;
        Logger = loggerFactory?.CreateLogger(GetType()) ?? NullLogger.Instance;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public TOptions Options { get; }

    /// <summary>The logging the protocol was given, or null.</summary>
    protected ILoggerFactory? LoggerFactory { get; }

    /// <summary>The protocol's own logger (a no-op without a logger factory).</summary>
    protected ILogger Logger { get; }

    /// <inheritdoc />
    public abstract TResult Run(IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// A reporter of finished units: each call reports <c>stage</c> as unit <c>done + 1</c> of <paramref name="total"/>
    /// to <paramref name="progress"/> (nothing when it is null).
    /// </summary>
    /// <param name="progress">Where reports go.</param>
    /// <param name="total">Units planned.</param>
    /// <param name="done">Units already finished.</param>
    protected Action<string> Stages(IProgress<ProtocolProgress>? progress, int total, int done = 0) =>
        stage => progress?.Report(new ProtocolProgress(Name, stage, ++done, total));

    IProtocolOptions IProtocol.Options => Options;

    IProtocolResult IProtocol.Run(IProgress<ProtocolProgress>? progress, CancellationToken cancellationToken) => Run(progress, cancellationToken);
}
