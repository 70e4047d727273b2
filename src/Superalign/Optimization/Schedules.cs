namespace Superalign.Optimization;

/// <summary>Which objective(s) an optimizer step trains.</summary>
public enum TrainingPhase
{
    /// <summary>A task-loss step.</summary>
    Competence,

    /// <summary>A value-preference step.</summary>
    Conformity,

    /// <summary>One step on the weighted sum of both losses.</summary>
    Joint,
}

/// <summary>How a quantity moves from its start to its end value over training.</summary>
public enum Interpolation
{
    /// <summary>Straight line.</summary>
    Linear,

    /// <summary>Half cosine: slow at both ends.</summary>
    Cosine,
}

/// <summary>The plan for one step: its phase and the weights of the two losses in it.</summary>
/// <param name="Phase">The phase.</param>
/// <param name="CompetenceWeight">Weight of the competence loss (0 when the phase is <see cref="TrainingPhase.Conformity"/>).</param>
/// <param name="ConformityWeight">Weight of the conformity loss (0 when the phase is <see cref="TrainingPhase.Competence"/>).</param>
public readonly record struct PhasePlan(TrainingPhase Phase, double CompetenceWeight, double ConformityWeight);

/// <summary>
/// Decides, for each optimizer step, whether it trains competence, conformity, or both. Implementations are
/// stateless functions of the step index, so a resumed run follows the same pattern.
/// </summary>
public interface IAlternationSchedule
{
    /// <summary>The plan of step <paramref name="step"/> (0-based) of <paramref name="totalSteps"/>.</summary>
    PhasePlan Plan(long step, long totalSteps);
}

/// <summary>The built-in alternation schedules.</summary>
public static class AlternationSchedules
{
    /// <summary>
    /// <paramref name="competenceSteps"/> competence steps, then <paramref name="conformitySteps"/> conformity steps,
    /// repeated: the pattern of step s is fixed by s mod (k + m).
    /// </summary>
    public static IAlternationSchedule FixedRatio(int competenceSteps, int conformitySteps) => new FixedRatioSchedule(competenceSteps, conformitySteps);

    /// <summary>Every step trains <c>wc·L_competence + wf·L_conformity</c> (RPO-like joint training).</summary>
    public static IAlternationSchedule Joint(double competenceWeight = 1.0, double conformityWeight = 1.0) =>
        new JointSchedule(competenceWeight, conformityWeight, competenceWeight, conformityWeight, Interpolation.Linear);

    /// <summary>Joint training whose weights move from the start to the end values over training.</summary>
    public static IAlternationSchedule AnnealedWeights(
        double competenceStart, double conformityStart, double competenceEnd, double conformityEnd, Interpolation interpolation = Interpolation.Cosine) =>
        new JointSchedule(competenceStart, conformityStart, competenceEnd, conformityEnd, interpolation);

    /// <summary>
    /// Alternation whose share of conformity steps moves from <paramref name="conformityShareStart"/> to
    /// <paramref name="conformityShareEnd"/> (each in [0, 1]) over training. Step s is a conformity step when the
    /// integral of the share up to s + 1 passes an integer, so the count of conformity steps in any prefix tracks the
    /// integral to within one step.
    /// </summary>
    public static IAlternationSchedule AnnealedRatio(double conformityShareStart, double conformityShareEnd, Interpolation interpolation = Interpolation.Linear) =>
        new AnnealedRatioSchedule(conformityShareStart, conformityShareEnd, interpolation);

    /// <summary>Only competence steps (supervised fine-tuning alone).</summary>
    public static IAlternationSchedule CompetenceOnly() => new FixedRatioSchedule(1, 0);

    /// <summary>Only conformity steps (preference optimization alone).</summary>
    public static IAlternationSchedule ConformityOnly() => new FixedRatioSchedule(0, 1);

    /// <summary>
    /// Sequential training, the baseline co-optimization must beat: competence for the first
    /// <paramref name="competenceFraction"/> of the steps, then conformity.
    /// </summary>
    public static IAlternationSchedule Sequential(double competenceFraction = 0.5) => new SequentialSchedule(competenceFraction);

    internal static double Interpolate(double start, double end, double fraction, Interpolation interpolation) => interpolation switch
    {
        Interpolation.Linear => start + (end - start) * fraction,
        _ => end + (start - end) * 0.5 * (1 + Math.Cos(Math.PI * fraction)),
    };

    internal static double Fraction(long step, long totalSteps) => totalSteps <= 1 ? 0 : Math.Clamp((double)step / (totalSteps - 1), 0, 1);
}

internal sealed class FixedRatioSchedule : IAlternationSchedule
{
    private readonly int _competence;
    private readonly int _conformity;

    public FixedRatioSchedule(int competenceSteps, int conformitySteps)
    {
        if (competenceSteps < 0)
            throw new ArgumentOutOfRangeException(nameof(competenceSteps), competenceSteps, "competenceSteps must be >= 0.");
        if (conformitySteps < 0)
            throw new ArgumentOutOfRangeException(nameof(conformitySteps), conformitySteps, "conformitySteps must be >= 0.");
        if (competenceSteps + conformitySteps == 0)
            throw new ArgumentOutOfRangeException(nameof(conformitySteps), 0, "competenceSteps + conformitySteps must be >= 1.");
        _competence = competenceSteps;
        _conformity = conformitySteps;
    }

    public PhasePlan Plan(long step, long totalSteps) =>
        step % (_competence + _conformity) < _competence
            ? new PhasePlan(TrainingPhase.Competence, 1, 0)
            : new PhasePlan(TrainingPhase.Conformity, 0, 1);

    public override string ToString() => $"fixed-ratio {_competence}:{_conformity}";

    internal (int Competence, int Conformity) Steps => (_competence, _conformity);
}

internal sealed class JointSchedule : IAlternationSchedule
{
    private readonly double _c0, _f0, _c1, _f1;
    private readonly Interpolation _interpolation;

    public JointSchedule(double c0, double f0, double c1, double f1, Interpolation interpolation)
    {
        Check(c0, "competenceStart");
        Check(f0, "conformityStart");
        Check(c1, "competenceEnd");
        Check(f1, "conformityEnd");
        if (c0 + f0 <= 0 || c1 + f1 <= 0)
            throw new ArgumentOutOfRangeException(nameof(c0), "At each end at least one of the two weights must be > 0.");
        (_c0, _f0, _c1, _f1, _interpolation) = (c0, f0, c1, f1, interpolation);
    }

    private static void Check(double w, string name)
    {
        if (!double.IsFinite(w) || w < 0) throw new ArgumentOutOfRangeException(name, w, $"{name} must be finite and >= 0.");
    }

    public PhasePlan Plan(long step, long totalSteps)
    {
        double x = AlternationSchedules.Fraction(step, totalSteps);
        return new PhasePlan(TrainingPhase.Joint,
            AlternationSchedules.Interpolate(_c0, _c1, x, _interpolation),
            AlternationSchedules.Interpolate(_f0, _f1, x, _interpolation));
    }

    public override string ToString() => $"joint {_c0}:{_f0} -> {_c1}:{_f1} ({_interpolation})";

    internal (double CompetenceStart, double ConformityStart, double CompetenceEnd, double ConformityEnd, Interpolation Interpolation) Weights =>
        (_c0, _f0, _c1, _f1, _interpolation);
}

internal sealed class AnnealedRatioSchedule : IAlternationSchedule
{
    private readonly double _start, _end;
    private readonly Interpolation _interpolation;

    public AnnealedRatioSchedule(double start, double end, Interpolation interpolation)
    {
        if (!(start >= 0 && start <= 1)) throw new ArgumentOutOfRangeException("conformityShareStart", start, "conformityShareStart must be in [0, 1].");
        if (!(end >= 0 && end <= 1)) throw new ArgumentOutOfRangeException("conformityShareEnd", end, "conformityShareEnd must be in [0, 1].");
        (_start, _end, _interpolation) = (start, end, interpolation);
    }

    /// <summary>Expected number of conformity steps among the first <paramref name="steps"/> steps: T·∫₀^{s/T} share(x) dx.</summary>
    internal double Cumulative(long steps, long totalSteps)
    {
        double t = Math.Max(1, totalSteps);
        double x = Math.Clamp(steps / t, 0, 1);
        double integral = _interpolation == Interpolation.Linear
            ? _start * x + (_end - _start) * x * x / 2
            : _end * x + (_start - _end) * 0.5 * (x + Math.Sin(Math.PI * x) / Math.PI);
        return t * integral;
    }

    public PhasePlan Plan(long step, long totalSteps)
    {
        // A tiny tolerance keeps exact integers (e.g. share 1.0) from flickering through rounding.
        bool conformity = Math.Floor(Cumulative(step + 1, totalSteps) + 1e-9) > Math.Floor(Cumulative(step, totalSteps) + 1e-9);
        return conformity ? new PhasePlan(TrainingPhase.Conformity, 0, 1) : new PhasePlan(TrainingPhase.Competence, 1, 0);
    }

    public override string ToString() => $"annealed-ratio {_start} -> {_end} ({_interpolation})";

    internal (double Start, double End, Interpolation Interpolation) Shares => (_start, _end, _interpolation);
}

internal sealed class SequentialSchedule : IAlternationSchedule
{
    private readonly double _fraction;

    public SequentialSchedule(double competenceFraction)
    {
        if (!(competenceFraction >= 0 && competenceFraction <= 1))
            throw new ArgumentOutOfRangeException(nameof(competenceFraction), competenceFraction, "competenceFraction must be in [0, 1].");
        _fraction = competenceFraction;
    }

    public PhasePlan Plan(long step, long totalSteps) =>
        step < Math.Round(_fraction * totalSteps)
            ? new PhasePlan(TrainingPhase.Competence, 1, 0)
            : new PhasePlan(TrainingPhase.Conformity, 0, 1);

    public override string ToString() => $"sequential {_fraction:0.###} competence first";

    internal double CompetenceFraction => _fraction;
}
