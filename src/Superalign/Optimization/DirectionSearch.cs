using Superalign.Data;

namespace Superalign.Optimization;

/// <summary>
/// One candidate update of a direction search: the step d = w_c·g_c + w_f·g_f (or, with a
/// <see cref="AlternatingOptimizerOptions.ConflictMode"/> and both weights &gt; 0, that mode's combination), i.e. what a
/// plain step with the plan (<see cref="Phase"/>, w_c, w_f) would apply.
/// </summary>
/// <param name="Name">Short name, unique within a search (tables, metrics, win counts).</param>
/// <param name="CompetenceWeight">w_c, finite and &gt;= 0.</param>
/// <param name="ConformityWeight">w_f, finite and &gt;= 0; w_c + w_f &gt; 0.</param>
public sealed record DirectionCandidate(string Name, double CompetenceWeight, double ConformityWeight)
{
    /// <summary>A competence step (w = 1, 0).</summary>
    public static DirectionCandidate Competence { get; } = new("competence", 1, 0);

    /// <summary>A conformity step (w = 0, 1).</summary>
    public static DirectionCandidate Conformity { get; } = new("conformity", 0, 1);

    /// <summary>A joint step with the given weights, named <c>joint wc:wf</c>.</summary>
    public static DirectionCandidate Joint(double competenceWeight, double conformityWeight) =>
        new(FormattableString.Invariant($"joint {competenceWeight:0.###}:{conformityWeight:0.###}"), competenceWeight, conformityWeight);

    /// <summary>The phase of the plain step this candidate stands for.</summary>
    public TrainingPhase Phase => ConformityWeight == 0 ? TrainingPhase.Competence : CompetenceWeight == 0 ? TrainingPhase.Conformity : TrainingPhase.Joint;

    /// <summary>The plan of the plain step this candidate stands for.</summary>
    public PhasePlan Plan => new(Phase, CompetenceWeight, ConformityWeight);
}

/// <summary>How a direction search picks among its candidates from their probe-loss changes.</summary>
/// <remarks>
/// For candidate i, Δc_i and Δf_i are the changes of the competence and conformity probe losses its update causes, and
/// its score is s_i = π_c·Δc_i / max(|L_c|, 1e−12) + π_f·Δf_i / max(|L_f|, 1e−12): the preference-weighted sum of the
/// relative changes (L_c, L_f are the probe losses before the update; π_c, π_f the
/// <see cref="DirectionSearchOptions.CompetencePreference"/> and <see cref="DirectionSearchOptions.ConformityPreference"/>).
/// Relative changes make the two losses commensurable whatever their scales. Lower is better; ties go to the earlier
/// candidate; a candidate whose probe losses are not finite scores +∞.
/// </remarks>
public enum DirectionChoice
{
    /// <summary>
    /// The best Pareto improvement: among the candidates that raise neither probe loss (Δc ≤ 0 and Δf ≤ 0), the one with the lowest score; when no candidate is a Pareto improvement, the lowest score overall.
    /// </summary>
    ParetoFirst,

    /// <summary>The lowest score, whether or not it is a Pareto improvement.</summary>
    Scalarized,
}

/// <summary>
/// Search over learning directions (Kim et al. 2025): every <see cref="Every"/> steps the optimizer computes the
/// competence and conformity gradients on the step's batches, tries each candidate update on a copy of the
/// optimizer state, measures both objectives' losses on held-out probe batches, keeps the winner's update (see
/// <see cref="Choice"/>) and discards the rest. The steps until the next search are plain steps with the winner's plan.
/// </summary>
/// <remarks>
/// With a search the optimizer's <see cref="AlternatingOptimizerOptions.Schedule"/> is not used. A search step pulls
/// one micro-batch set from both training sources (both gradients are needed), plus <see cref="ProbeBatches"/>
/// batches from each probe source, and costs one forward and backward per objective, then per candidate one AdamW
/// update, one probe evaluation and a restore of the state (see <see cref="DirectionSearchStatistics"/> for the
/// measured time). It needs the flat parameter buffer (<see cref="AlternatingOptimizerOptions.FlatParameterBuffer"/>),
/// whose state can be copied and restored in a few native calls, and both objectives.
/// </remarks>
public sealed record DirectionSearchOptions
{
    /// <summary>The candidate updates, at least two, with distinct names. Default: competence, conformity, joint 1:1.</summary>
    public IReadOnlyList<DirectionCandidate> Candidates { get; init; } =
        [DirectionCandidate.Competence, DirectionCandidate.Conformity, DirectionCandidate.Joint(1, 1)];

    /// <summary>Search on every step whose index is a multiple of this (k &gt;= 1; the first step always searches). Default 8.</summary>
    public int Every { get; init; } = 8;

    /// <summary>Held-out competence batches the candidates are scored on. Required.</summary>
    public IBatchSource<SupervisedBatch>? CompetenceProbes { get; init; }

    /// <summary>Held-out preference batches the candidates are scored on. Required.</summary>
    public IBatchSource<PreferenceBatch>? ConformityProbes { get; init; }

    /// <summary>Batches pulled from each probe source per search (the same ones score every candidate). Default 1.</summary>
    public int ProbeBatches { get; init; } = 1;

    /// <summary>The choice rule. Default <see cref="DirectionChoice.ParetoFirst"/>.</summary>
    public DirectionChoice Choice { get; init; } = DirectionChoice.ParetoFirst;

    /// <summary>π_c, the weight of the competence probe loss's relative change in the score. Finite, &gt;= 0. Default 1.</summary>
    public double CompetencePreference { get; init; } = 1;

    /// <summary>π_f, the weight of the conformity probe loss's relative change in the score. Finite, &gt;= 0. Default 1.</summary>
    public double ConformityPreference { get; init; } = 1;

    /// <summary>Throws <see cref="ArgumentException"/> (or its out-of-range subclass) naming the first invalid option.</summary>
    public void Validate()
    {
        ValidateExceptProbes();
        const string owner = $"{nameof(AlternatingOptimizerOptions)}.{nameof(AlternatingOptimizerOptions.DirectionSearch)}";
        if (CompetenceProbes is null) throw new ArgumentException($"{owner}.{nameof(CompetenceProbes)} is required: the batches the candidates' competence is scored on.", nameof(CompetenceProbes));
        if (ConformityProbes is null) throw new ArgumentException($"{owner}.{nameof(ConformityProbes)} is required: the batches the candidates' conformity is scored on.", nameof(ConformityProbes));
    }

    /// <summary>Every check of <see cref="Validate"/> but the presence of the probe sources (for callers that supply them later).</summary>
    internal void ValidateExceptProbes()
    {
        const string owner = $"{nameof(AlternatingOptimizerOptions)}.{nameof(AlternatingOptimizerOptions.DirectionSearch)}";
        if (Candidates is null || Candidates.Count < 2)
            throw new ArgumentException($"{owner}.{nameof(Candidates)} needs at least two candidates; got {Candidates?.Count ?? 0}.", nameof(Candidates));
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < Candidates.Count; i++)
        {
            var c = Candidates[i] ?? throw new ArgumentException($"{owner}.{nameof(Candidates)}[{i}] is null.", nameof(Candidates));
            if (string.IsNullOrWhiteSpace(c.Name))
                throw new ArgumentException($"{owner}.{nameof(Candidates)}[{i}] has no name.", nameof(Candidates));
            if (!names.Add(c.Name))
                throw new ArgumentException($"{owner}.{nameof(Candidates)}[{i}]: the name '{c.Name}' is used twice.", nameof(Candidates));
            if (!(double.IsFinite(c.CompetenceWeight) && c.CompetenceWeight >= 0 && double.IsFinite(c.ConformityWeight) && c.ConformityWeight >= 0
                  && c.CompetenceWeight + c.ConformityWeight > 0))
                throw new ArgumentOutOfRangeException(nameof(Candidates), c,
                    $"{owner}.{nameof(Candidates)}[{i}] ('{c.Name}'): both weights must be finite and >= 0, and not both 0; got {c.CompetenceWeight} and {c.ConformityWeight}.");
        }
        if (Every < 1) throw new ArgumentOutOfRangeException(nameof(Every), Every, $"{owner}.{nameof(Every)} must be >= 1; got {Every}.");
        if (ProbeBatches < 1) throw new ArgumentOutOfRangeException(nameof(ProbeBatches), ProbeBatches, $"{owner}.{nameof(ProbeBatches)} must be >= 1; got {ProbeBatches}.");
        if (!Enum.IsDefined(Choice)) throw new ArgumentOutOfRangeException(nameof(Choice), Choice, $"{owner}.{nameof(Choice)} must be ParetoFirst or Scalarized.");
        if (!(double.IsFinite(CompetencePreference) && CompetencePreference >= 0))
            throw new ArgumentOutOfRangeException(nameof(CompetencePreference), CompetencePreference, $"{owner}.{nameof(CompetencePreference)} must be finite and >= 0.");
        if (!(double.IsFinite(ConformityPreference) && ConformityPreference >= 0))
            throw new ArgumentOutOfRangeException(nameof(ConformityPreference), ConformityPreference, $"{owner}.{nameof(ConformityPreference)} must be finite and >= 0.");
        if (CompetencePreference + ConformityPreference <= 0)
            throw new ArgumentOutOfRangeException(nameof(ConformityPreference), ConformityPreference, $"{owner}: {nameof(CompetencePreference)} and {nameof(ConformityPreference)} must not both be 0.");
    }
}

/// <summary>What a direction search has done so far: its win counts and its cost.</summary>
/// <param name="Searches">Search steps run.</param>
/// <param name="Wins">Per candidate name (in the options' order), the searches it won.</param>
/// <param name="ParetoImprovements">Searches whose winner raised neither probe loss (Δc ≤ 0 and Δf ≤ 0).</param>
/// <param name="SearchStepSeconds">Wall time of the search steps (training batches, trials, probes, the applied update).</param>
/// <param name="PlainSteps">Steps between searches.</param>
/// <param name="PlainStepSeconds">Wall time of those steps.</param>
public sealed record DirectionSearchStatistics(
    int Searches, IReadOnlyDictionary<string, int> Wins, int ParetoImprovements, double SearchStepSeconds, int PlainSteps, double PlainStepSeconds)
{
    /// <summary>Mean wall time of a search step over that of a plain step (NaN until both kinds have run).</summary>
    public double SearchStepCostRatio => Searches > 0 && PlainSteps > 0 && PlainStepSeconds > 0
        ? SearchStepSeconds / Searches / (PlainStepSeconds / PlainSteps)
        : double.NaN;
}

/// <summary>The outcome of one search's choice.</summary>
/// <param name="Index">The winner's index among the candidates.</param>
/// <param name="ParetoImprovement">Whether the winner raised neither probe loss.</param>
/// <param name="Scores">Every candidate's score (+∞ where its probe losses were not finite).</param>
internal readonly record struct DirectionVerdict(int Index, bool ParetoImprovement, double[] Scores);

/// <summary>The choice rule of <see cref="DirectionChoice"/>, as a pure function of the probe losses.</summary>
internal static class DirectionSearchRule
{
    /// <summary>Picks a candidate from the probe losses before (<paramref name="competenceBefore"/>, <paramref name="conformityBefore"/>) and after each candidate's update.</summary>
    public static DirectionVerdict Choose(double competenceBefore, double conformityBefore, IReadOnlyList<(double Competence, double Conformity)> after,
        DirectionChoice choice, double competencePreference, double conformityPreference)
    {
        if (after.Count == 0) throw new ArgumentException("No candidates.", nameof(after));
        double sc = Math.Max(Math.Abs(competenceBefore), 1e-12), sf = Math.Max(Math.Abs(conformityBefore), 1e-12);
        var scores = new double[after.Count];
        var pareto = new bool[after.Count];
        for (int i = 0; i < after.Count; i++)
        {
            var (c, f) = after[i];
            if (!double.IsFinite(c) || !double.IsFinite(f)) { scores[i] = double.PositiveInfinity; continue; }
            double dc = c - competenceBefore, df = f - conformityBefore;
            // π·Δ with π = 0 must not turn an infinite ratio into NaN; Δ is finite here, so the terms are too.
            scores[i] = competencePreference * (dc / sc) + conformityPreference * (df / sf);
            pareto[i] = dc <= 0 && df <= 0;
        }
        bool anyPareto = choice == DirectionChoice.ParetoFirst && pareto.Any(p => p);
        int best = -1;
        for (int i = 0; i < after.Count; i++)
        {
            if (anyPareto && !pareto[i]) continue;
            if (best < 0 || scores[i] < scores[best]) best = i;
        }
        return new DirectionVerdict(best, pareto[best], scores);
    }
}
