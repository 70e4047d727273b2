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

    /// <summary>
    /// The keys of the run's units (e.g. <c>seed-0</c>, <c>seed-1</c>), in the order a run computes them: the pieces
    /// whose results are a function of the options and the key alone, which a run directory stores and a run can
    /// select (<see cref="ProtocolRun"/>). Empty for a protocol that does not run by units.
    /// </summary>
    IReadOnlyList<string> Units { get; }

    /// <summary>Runs the protocol, or the units <paramref name="run"/> selects, storing and reading back finished units in its directory.</summary>
    /// <param name="run">Run directory and unit selection (<see cref="ProtocolRun.None"/>: as <see cref="Run(IProgress{ProtocolProgress}?, CancellationToken)"/>).</param>
    /// <param name="progress">Receives a report after each unit of work; a unit read back is reported once, as <c>… read back</c>.</param>
    /// <param name="cancellationToken">Checked between and during trainings.</param>
    /// <exception cref="OperationCanceledException">The run was cancelled (the units finished before stay stored).</exception>
    /// <exception cref="InvalidOperationException">The directory holds a run of other options.</exception>
    /// <exception cref="NotSupportedException">A directory or selection was given to a protocol without units.</exception>
    IProtocolResult Run(ProtocolRun run, IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Computes (or reads back) the units <paramref name="run"/> selects and stores them in its directory, without a
    /// result: a share of a run that a merge completes (<c>superalign run --shard</c>). Unlike
    /// <see cref="Run(ProtocolRun, IProgress{ProtocolProgress}?, CancellationToken)"/> it takes any selection, also one
    /// the protocol could not summarise on its own. The default runs the protocol and drops the result.
    /// </summary>
    /// <param name="run">Run directory and unit selection.</param>
    /// <param name="progress">Receives a report after each unit of work.</param>
    /// <param name="cancellationToken">Checked between and during trainings.</param>
    void Compute(ProtocolRun run, IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Run(run, progress, cancellationToken);
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

    /// <summary>Runs the protocol, or the units <paramref name="run"/> selects, storing and reading back finished units in its directory.</summary>
    /// <param name="run">Run directory and unit selection.</param>
    /// <param name="progress">Receives a report after each unit of work; a unit read back is reported once, as <c>… read back</c>.</param>
    /// <param name="cancellationToken">Checked between and during trainings.</param>
    /// <exception cref="OperationCanceledException">The run was cancelled (the units finished before stay stored).</exception>
    /// <exception cref="InvalidOperationException">The directory holds a run of other options.</exception>
    /// <exception cref="NotSupportedException">A directory or selection was given to a protocol without units.</exception>
    new TResult Run(ProtocolRun run, IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default);
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

    /// <inheritdoc />
    /// <remarks>Empty unless overridden: the protocol then runs only as a whole.</remarks>
    public virtual IReadOnlyList<string> Units => [];

    /// <inheritdoc />
    /// <remarks>
    /// Unless overridden, runs <see cref="Run(IProgress{ProtocolProgress}?, CancellationToken)"/> when
    /// <paramref name="run"/> asks for no directory and no selection, and throws <see cref="NotSupportedException"/>
    /// otherwise. A protocol that runs by units overrides <see cref="Units"/> and this method, and uses
    /// <see cref="OpenStore"/>, <see cref="SelectUnits"/> and <see cref="RunUnit{T}"/>.
    /// </remarks>
    public virtual TResult Run(ProtocolRun run, IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        if (run.Directory is not null || run.Units is not null)
            throw new NotSupportedException($"The protocol '{Name}' does not run by units: it cannot store or select them.");
        return Run(progress, cancellationToken);
    }

    /// <inheritdoc cref="IProtocol.Compute"/>
    public virtual void Compute(ProtocolRun run, IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Run(run, progress, cancellationToken);

    /// <summary>The key of the unit of seed <paramref name="seed"/>: <c>seed-3</c> (<c>seed--1</c> for −1).</summary>
    protected static string SeedUnit(int seed) => "seed-" + seed.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The key of arm <paramref name="arm"/> of seed <paramref name="seed"/>: <c>seed-3.arm-2</c>.</summary>
    protected static string SeedArmUnit(int seed, int arm) => $"{SeedUnit(seed)}.arm-{arm.ToString(System.Globalization.CultureInfo.InvariantCulture)}";

    /// <summary>One unit per seed and arm (<see cref="SeedArmUnit"/>), seed by seed: for protocols that compare arms per seed.</summary>
    protected static IReadOnlyList<string> SeedArmUnits(IReadOnlyList<int> seeds, int arms) =>
        seeds.SelectMany(seed => Enumerable.Range(0, arms).Select(k => SeedArmUnit(seed, k))).ToList();

    /// <summary>
    /// The units <paramref name="run"/> selects (<see cref="SelectUnits"/>) when it holds every arm of each seed it
    /// touches; a protocol that compares arms per seed summarises only whole seeds.
    /// </summary>
    /// <exception cref="ArgumentException">The selection holds some but not all arms of a seed.</exception>
    protected HashSet<string> SelectWholeSeeds(ProtocolRun run, IReadOnlyList<int> seeds, int arms)
    {
        var selected = SelectUnits(run).ToHashSet(StringComparer.Ordinal);
        foreach (int seed in seeds)
        {
            int held = Enumerable.Range(0, arms).Count(k => selected.Contains(SeedArmUnit(seed, k)));
            if (held > 0 && held < arms)
                throw new ArgumentException($"The selection holds {held} of the {arms} units of seed {seed}; '{Name}' compares arms per seed: " +
                                            "select all of a seed's units, or compute a share with Compute (superalign run --shard does).", nameof(run));
        }
        return selected;
    }

    /// <summary>
    /// Reads back or computes the selected (seed, arm) units in the order of <see cref="SeedArmUnits"/>. A seed's shared
    /// state (its base model) is made by <paramref name="makeBase"/> only when one of its selected arms must be computed,
    /// once, and disposed after its arms; every computed unit is stored before the next starts.
    /// </summary>
    private protected List<TUnit> ComputeSeedArms<TBase, TUnit>(ProtocolRun run, IReadOnlyList<int> seeds, IReadOnlyList<string> armNames, HashSet<string> selected,
        IProgress<ProtocolProgress>? progress, Func<int, StageCounter, TBase> makeBase, Func<TBase, int, int, TUnit> computeArm, CancellationToken cancellationToken)
        where TBase : class, IDisposable
    {
        var store = OpenStore(run);
        var plan = seeds.Select(seed => (Seed: seed, Arms: Enumerable.Range(0, armNames.Count).Where(k => selected.Contains(SeedArmUnit(seed, k))).ToList()))
            .Where(p => p.Arms.Count > 0).ToList();
        var stages = new StageCounter(Name, progress, plan.Sum(p => 1 + p.Arms.Count));
        var units = new List<TUnit>();
        foreach (var (seed, arms) in plan)
        {
            TBase? seedBase = null;
            try
            {
                foreach (int k in arms)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    units.Add(RunUnit(store, run, SeedArmUnit(seed, k), () =>
                    {
                        seedBase ??= makeBase(seed, stages);
                        var unit = computeArm(seedBase, seed, k);
                        stages.Report($"seed {seed}: {armNames[k]} trained");
                        return unit;
                    }, () => stages.Report($"seed {seed}: {armNames[k]}: read back")));
                }
                if (seedBase is null) stages.Report($"seed {seed}: base: read back"); // every selected arm was read back
            }
            finally
            {
                seedBase?.Dispose();
            }
        }
        return units;
    }

    /// <summary>
    /// The units <paramref name="run"/> selects, in the order of <see cref="Units"/> (all of them when
    /// <see cref="ProtocolRun.Units"/> is null).
    /// </summary>
    /// <exception cref="ArgumentException">The selection names a unit the protocol does not have, or selects none.</exception>
    protected IReadOnlyList<string> SelectUnits(ProtocolRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        var all = Units;
        if (run.Units is null) return all;
        var unknown = run.Units.Where(u => !all.Contains(u)).ToList();
        if (unknown.Count > 0)
            throw new ArgumentException($"The protocol '{Name}' has no unit {string.Join(", ", unknown.Select(u => $"'{u}'"))}; its units: {string.Join(", ", all)}.", nameof(run));
        var selected = all.Where(run.Units.Contains).ToList();
        if (selected.Count == 0) throw new ArgumentException($"The selection of units of '{Name}' is empty.", nameof(run));
        return selected;
    }

    /// <summary>The seeds of <paramref name="seeds"/> whose unit (<see cref="SeedUnit"/>) <paramref name="run"/> selects, in order.</summary>
    /// <exception cref="ArgumentException">The selection names a unit the protocol does not have, or selects none.</exception>
    protected IReadOnlyList<int> SelectSeeds(ProtocolRun run, IReadOnlyList<int> seeds)
    {
        ArgumentNullException.ThrowIfNull(seeds);
        var selected = SelectUnits(run).ToHashSet(StringComparer.Ordinal);
        return seeds.Where(s => selected.Contains(SeedUnit(s))).ToList();
    }

    /// <summary>
    /// The store of <paramref name="run"/>'s directory for these options (<see cref="ProtocolUnitStore.Open"/>), or
    /// null when it names none.
    /// </summary>
    /// <exception cref="InvalidOperationException">The directory holds a run of other options.</exception>
    protected ProtocolUnitStore? OpenStore(ProtocolRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        return run.Directory is null ? null : ProtocolUnitStore.Open(run.Directory, Name, Options, Units, run.ExternalInputs, Logger, DataInputs);
    }

    /// <summary>
    /// The data files the options name, with their content hashes (e.g. <c>SftData=sft.jsonl sha256:…</c>), or null when
    /// they name none: part of the fingerprint of a run directory (<see cref="ProtocolUnitStore.ComputeFingerprint"/>),
    /// so units computed from other data are refused rather than merged.
    /// </summary>
    protected virtual string? DataInputs => null;

    /// <summary>
    /// One unit: read back from <paramref name="store"/> when it holds it (then <paramref name="readBack"/> runs),
    /// otherwise computed and, with a store, written to it.
    /// </summary>
    /// <typeparam name="T">The unit's data: a record that <see cref="ProtocolJson"/> writes and reads back exactly.</typeparam>
    /// <param name="store">The run's store, or null.</param>
    /// <param name="run">The run settings (<see cref="ProtocolRun.ComputeMissing"/>).</param>
    /// <param name="unit">The unit's key.</param>
    /// <param name="compute">Computes the unit.</param>
    /// <param name="readBack">Runs when the unit was read back instead of computed (e.g. to report progress).</param>
    /// <exception cref="InvalidOperationException">The unit is missing and <see cref="ProtocolRun.ComputeMissing"/> is false.</exception>
    protected T RunUnit<T>(ProtocolUnitStore? store, ProtocolRun run, string unit, Func<T> compute, Action? readBack = null)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(compute);
        if (store is not null && store.TryRead(unit, out T? stored))
        {
            Logger.LogInformation("Unit {Unit} read back from {Directory}", unit, store.Directory);
            readBack?.Invoke();
            return stored!;
        }
        if (!run.ComputeMissing)
            throw new InvalidOperationException(store is null
                ? $"Unit '{unit}' of '{Name}' would have to be computed, but the run has no directory and ComputeMissing is false."
                : $"Unit '{unit}' of '{Name}' is not in '{store.Directory}' and ComputeMissing is false.");
        var value = compute();
        store?.Write(unit, value);
        return value;
    }

    IProtocolOptions IProtocol.Options => Options;

    IProtocolResult IProtocol.Run(IProgress<ProtocolProgress>? progress, CancellationToken cancellationToken) => Run(progress, cancellationToken);

    IProtocolResult IProtocol.Run(ProtocolRun run, IProgress<ProtocolProgress>? progress, CancellationToken cancellationToken) => Run(run, progress, cancellationToken);
}

/// <summary>Counts finished stages of a run and reports them; a unit read back advances it by all of its stages at once.</summary>
internal sealed class StageCounter(string protocol, IProgress<ProtocolProgress>? progress, int total, int done = 0)
{
    public int Done { get; private set; } = done;

    public int Total { get; } = total;

    /// <summary>Reports <paramref name="stage"/> as <paramref name="stages"/> more stages done.</summary>
    public void Report(string stage, int stages = 1)
    {
        Done += stages;
        progress?.Report(new ProtocolProgress(protocol, stage, Done, Total));
    }
}
