using Superalign.Objectives.Competence;

namespace Superalign.Experiments.Protocols;

/// <summary>
/// The options of a protocol's competence objective (<see cref="CompetenceObjectives.Create"/>): null keeps the
/// objective's default, and an option the named objective does not take is an error (so a typo is never ignored). For
/// <c>logconf</c> (Burns et al.'s auxiliary confidence loss): <see cref="Alpha"/> (final weight of the student's
/// hardened predictions, default 0.5; Burns et al. use 0.75 for their largest students), <see cref="WarmupFraction"/>
/// (share of training over which the weight rises linearly from 0, default 0.2) and <see cref="Hardening"/> (the
/// threshold: <c>matchWeakMarginals</c> = the quantile threshold that keeps the batch's weak-label class balance,
/// <c>argmax</c> = 0.5 for two classes; <c>auto</c>, the default, is the former for two classes, argmax above).
/// </summary>
public sealed record CompetenceObjectiveOptions
{
    /// <summary>α of <c>product</c> (default 1), <c>logconf</c> (0.5) or <c>entropy</c> (0.5), in [0, 1] where the objective requires it.</summary>
    public double? Alpha { get; init; }

    /// <summary>β of <c>product</c> (default 1).</summary>
    public double? Beta { get; init; }

    /// <summary>Label smoothing of <c>ce</c> (default 0).</summary>
    public double? LabelSmoothing { get; init; }

    /// <summary>Warm-up fraction of <c>logconf</c>, in [0, 1] (default 0.2; 0 = the full weight from the start).</summary>
    public double? WarmupFraction { get; init; }

    /// <summary>How <c>logconf</c> hardens the student's predictions, i.e. its threshold (default <see cref="Objectives.Competence.Hardening.Auto"/>).</summary>
    public Hardening? Hardening { get; init; }

    /// <summary>The objective called <paramref name="name"/> with these options.</summary>
    /// <exception cref="ArgumentException">An option the objective does not take, or out of its range (the message names it).</exception>
    public ICompetenceObjective Create(string name) => CompetenceObjectives.Create(name, Alpha, Beta, LabelSmoothing, WarmupFraction, Hardening);

    /// <summary>Creates the objective once to check these options against it; rethrows naming <c>owner.option</c>.</summary>
    internal void Validate(string name, string option, string owner)
    {
        try
        {
            Create(name);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentOutOfRangeException(option, $"{owner}.{option} do not fit the objective '{name}': {e.Message}");
        }
    }
}
