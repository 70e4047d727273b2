namespace Superalign.Experiments.Protocols;

/// <summary>
/// How to run a protocol, apart from its options (which decide the results): where its finished units are stored so
/// that a killed run resumes, and which of its units to run. Pass it to
/// <see cref="IProtocol.Run(ProtocolRun, IProgress{ProtocolProgress}?, CancellationToken)"/>; docs/protocols.md,
/// "Resuming a run", has the guarantees.
/// </summary>
/// <remarks>
/// A <b>unit</b> is a piece of a run whose result is a function of the options and the unit's key alone, so it can be
/// computed in any order, in any process, and read back instead of being computed again: in the built-in protocols one
/// seed (key <c>seed-3</c>), with every arm of that seed, because the arms of a seed share the seed's models and data.
/// <see cref="IProtocol.Units"/> lists a protocol's units.
/// </remarks>
public sealed record ProtocolRun
{
    /// <summary>No run directory and every unit: what <c>Run(progress, cancellationToken)</c> does.</summary>
    public static ProtocolRun None { get; } = new();

    /// <summary>
    /// The run directory, or null to store nothing. With a directory, each finished unit is written to
    /// <c>units/&lt;unit&gt;.json</c> under it (atomically) with the fingerprint of the options, and a later run with the same
    /// directory and options reads the units it finds there instead of computing them again.
    /// <c>run.json</c> beside them records the protocol, the fingerprint, the units and the options.
    /// A directory written with other options is refused (<see cref="ProtocolUnitStore.Open"/>).
    /// </summary>
    public string? Directory { get; init; }

    /// <summary>
    /// The units to run (keys of <see cref="IProtocol.Units"/>, in any order), or null for all of them. The result of a
    /// subset covers those units only (its seeds are theirs; its options are the full options). Running all units
    /// later with the same <see cref="Directory"/> reads back what the subsets stored: that is how the shards of a run
    /// are merged.
    /// </summary>
    public IReadOnlyCollection<string>? Units { get; init; }

    /// <summary>
    /// Whether units missing from <see cref="Directory"/> are computed (default true). False makes a missing unit an
    /// error (<see cref="InvalidOperationException"/> naming it): for merging the shards of a run without training.
    /// </summary>
    public bool ComputeMissing { get; init; } = true;

    /// <summary>
    /// What else decides the results besides the options, mixed into the fingerprint: e.g. a name and hash of the data
    /// and models of a <see cref="WeakToStrongSetup"/>, which the options do not describe. Null: nothing.
    /// </summary>
    public string? ExternalInputs { get; init; }
}
