using System.Globalization;
using Superalign.Experiments.Metrics;
using Superalign.Experiments.Protocols;
using Superalign.Optimization;

namespace Superalign.Charts;

/// <summary>
/// The charts of each protocol's result, described (<see cref="For"/>) and written (<see cref="Write"/>). Accuracies,
/// competence, conformity and copied fractions are drawn on [0, 1] axes, so their intervals are clipped there; model
/// sizes are categories; a title says "95% CI" exactly when intervals are drawn.
/// </summary>
public static class ProtocolCharts
{
    /// <summary>Writes the charts of <paramref name="result"/> into <paramref name="directory"/> (created if needed).</summary>
    /// <param name="result">A result of any protocol of <see cref="ProtocolCatalog"/>.</param>
    /// <param name="directory">Where the image files go.</param>
    /// <param name="formats">PNG, SVG or both.</param>
    /// <param name="width">Image width in pixels (the SVG's size too).</param>
    /// <param name="height">Image height in pixels.</param>
    /// <returns>The paths written, in chart order.</returns>
    /// <exception cref="ArgumentException">The result is of no known protocol.</exception>
    public static IReadOnlyList<string> Write(IProtocolResult result, string directory, ChartFormats formats = ChartFormats.All,
        int width = ChartRenderer.DefaultWidth, int height = ChartRenderer.DefaultHeight) =>
        For(result).SelectMany(chart => ChartRenderer.Save(chart, directory, formats, width, height)).ToList();

    /// <summary>The charts of <paramref name="result"/>, described but not drawn.</summary>
    /// <exception cref="ArgumentException">The result is of no known protocol.</exception>
    public static IReadOnlyList<Chart> For(IProtocolResult result) => result switch
    {
        null => throw new ArgumentNullException(nameof(result)),
        WeakToStrongResult r => WeakToStrong(r),
        CoOptimizationResult r => CoOptimization(r),
        AlignmentTaxResult r => AlignmentTax(r),
        SelfEnhancementResult r => SelfEnhancement(r),
        SandwichingResult r => Sandwiching(r),
        GapAnnealingResult r => GapAnnealing(r),
        DiversifiedSupervisionResult r => DiversifiedSupervision(r),
        _ => throw new ArgumentException($"No charts are defined for {result.GetType().Name}.", nameof(result)),
    };

    // ---- one method per protocol -------------------------------------------------------------------------------------

    private static IReadOnlyList<Chart> WeakToStrong(WeakToStrongResult result)
    {
        // Strong students as categories, in the options' order (smallest first); names the options do not list go last.
        var order = result.Options.StrongTrunks.Select(t => t.Name).ToList();
        var strong = result.Pairs.Select(p => p.Strong).Distinct()
            .OrderBy(s => order.IndexOf(s) is var i && i >= 0 ? i : int.MaxValue).ToList();
        // One line per (variant, weak model, loss); the loss is named when a run compares several.
        bool losses = result.Pairs.Select(p => p.Loss).Distinct().Count() > 1;
        var series = result.Pairs.GroupBy(p => (p.Variant, p.Weak, p.Loss)).Select(g =>
        {
            var pairs = g.Where(p => p.Pgr is not null).OrderBy(p => strong.IndexOf(p.Strong)).ToList();
            string name = (g.Key.Variant == SupervisionVariant.Single ? $"weak {g.Key.Weak}" : $"ensemble of {g.Key.Weak}") + (losses ? $", {g.Key.Loss}" : "");
            return new ChartSeries(name, pairs.Select(p => (double)strong.IndexOf(p.Strong)).ToList(), pairs.Select(p => p.Pgr!.Mean).ToList())
            {
                YIntervals = pairs.Select(p => Interval(p.Pgr)).ToList(),
            };
        }).Where(s => s.X.Count > 0).ToList();
        if (series.Count == 0) return [];
        var x = new ChartAxis("strong student trunk (width-depth)") { Categories = strong };
        // PGR is not a rate: below 0 the student is worse than its supervisor, above 1 better than the ceiling.
        var chart = new XYChart("pgr-vs-student-size",
            Title("Performance gap recovered vs strong student size", result.Seeds.Count, series.Any(s => s.HasIntervals),
                string.Join(", ", result.Options.CompetenceLosses ?? [result.Options.CompetenceLoss])),
            x, new ChartAxis("PGR"), series)
        {
            Connect = true,
            Dodge = 0.04,
            ReferenceLines = [new("no gain (PGR 0)", 0), new("ceiling (PGR 1)", 1)],
        };
        return [chart];
    }

    private static IReadOnlyList<Chart> CoOptimization(CoOptimizationResult result)
    {
        int seeds = result.Options.Seeds.Count;
        var summaries = result.Summaries.Select(s => new ChartSeries(s.Schedule, [s.Competence.Mean], [s.Conformity.Mean])
        {
            XIntervals = [Interval(s.Competence)],
            YIntervals = [Interval(s.Conformity)],
        }).ToList();
        var competence = ChartAxis.Rate("held-out competence");
        var conformity = ChartAxis.Rate("held-out conformity");
        var charts = new List<Chart>
        {
            new XYChart("competence-vs-conformity", Title("Held-out competence vs conformity per schedule", seeds, summaries.Any(s => s.HasIntervals)),
                competence, conformity, summaries),
        };

        // Every run's final point, per schedule, and the front of those points (recomputed here from the runs).
        var finals = result.Runs.Select(r => new ParetoPoint($"{r.Schedule}/{r.Seed}", r.Updates, r.Scores.Competence, r.Scores.Conformity)).ToList();
        var front = ParetoAnalysis.Front(finals).Select(p => (p.Competence, p.Conformity)).ToList();
        var runs = result.Summaries.Select(s => s.Schedule).Concat(result.Runs.Select(r => r.Schedule)).Distinct()
            .Select(schedule => result.Runs.Where(r => r.Schedule == schedule).ToList()).Where(r => r.Count > 0)
            .Select(r => new ChartSeries(r[0].Schedule, r.Select(x => x.Scores.Competence).ToList(), r.Select(x => x.Scores.Conformity).ToList())).ToList();
        if (runs.Count > 0)
            charts.Add(new XYChart("pareto",
                string.Create(CultureInfo.InvariantCulture, $"Final (competence, conformity) of every run ({seeds} {Seeds(seeds)}); front hypervolume {ParetoAnalysis.Hypervolume(finals):F3}"),
                competence, conformity, runs) { Front = front });

        foreach (var (what, value) in new (string, Func<TrajectoryPoint, double>)[] { ("competence", p => p.Competence), ("conformity", p => p.Conformity) })
        {
            var trajectories = result.Summaries.Select(s => Trajectory(result, s.Schedule, value)).Where(s => s.X.Count > 0).ToList();
            if (trajectories.Count > 0)
                charts.Add(new XYChart($"{what}-along-training", $"Held-out {what} along training (mean over {seeds} {Seeds(seeds)})",
                    new ChartAxis("mini-batches trained after the base model") { IntegerTicks = true }, ChartAxis.Rate($"held-out {what}"), trajectories)
                { Connect = true });
        }
        return charts;
    }

    /// <summary>
    /// The trade-off curve (each arm's mean final competence against conformity with 2-D intervals; the single-stage
    /// mixing arms joined in order of their conformity share, from competence-only to conformity-only) and the mean
    /// competence and conformity along training per arm.
    /// </summary>
    private static IReadOnlyList<Chart> AlignmentTax(AlignmentTaxResult result)
    {
        int seeds = result.Options.Seeds.Count;
        var share = result.TradeOff.ToDictionary(p => p.Arm, p => p.ConformityShare, StringComparer.Ordinal);
        // The curve: arms of one stage on the rule's pairs with the default objective (competence-only, the ratios, conformity-only).
        var curveArms = result.Options.Arms.Where(a => a.Stages.Count == 1 && a.Pairs is null && a.Stages[0].ConformityLoss is null
                                                       && a.Stages[0].Schedule.Plan(0, 1).Phase != TrainingPhase.Joint)
            .Select(a => result.Summaries.Single(s => s.Arm == a.Name)).OrderBy(s => share[s.Arm]).ToList();
        var series = new List<ChartSeries>();
        if (curveArms.Count > 1)
            series.Add(new ChartSeries($"ratio sweep ({curveArms.Count} arms, {curveArms[0].Arm} → {curveArms[^1].Arm})",
                curveArms.Select(s => s.Competence.Mean).ToList(), curveArms.Select(s => s.Conformity.Mean).ToList())
            {
                XIntervals = curveArms.Select(s => Interval(s.Competence)).ToList(),
                YIntervals = curveArms.Select(s => Interval(s.Conformity)).ToList(),
            });
        foreach (var s in result.Summaries.Where(s => curveArms.Count <= 1 || !curveArms.Contains(s)))
            series.Add(new ChartSeries(s.Arm, [s.Competence.Mean], [s.Conformity.Mean]) { XIntervals = [Interval(s.Competence)], YIntervals = [Interval(s.Conformity)] });
        var charts = new List<Chart>
        {
            new XYChart("trade-off", Title("Final competence vs conformity per arm", seeds, series.Any(s => s.HasIntervals)),
                ChartAxis.Rate("held-out competence"), ChartAxis.Rate("held-out conformity"), series) { Connect = true },
        };
        foreach (var (what, value) in new (string, Func<TrajectoryPoint, double>)[] { ("competence", p => p.Competence), ("conformity", p => p.Conformity) })
        {
            var trajectories = result.Summaries.Select(s =>
            {
                var runs = result.Runs.Where(r => r.Arm == s.Arm).ToList();
                int points = runs.Count == 0 ? 0 : runs.Min(r => r.Trajectory.Count);
                return new ChartSeries(s.Arm, Enumerable.Range(0, points).Select(i => runs.Average(r => (double)r.Trajectory[i].Batches)).ToList(),
                    Enumerable.Range(0, points).Select(i => runs.Average(r => value(r.Trajectory[i]))).ToList());
            }).Where(s => s.X.Count > 0).ToList();
            if (trajectories.Count > 0)
                charts.Add(new XYChart($"tax-{what}-along-training", $"Held-out {what} along training from the converged base (mean over {seeds} {Seeds(seeds)})",
                    new ChartAxis("mini-batches trained after the base") { IntegerTicks = true }, ChartAxis.Rate($"held-out {what}"), trajectories) { Connect = true });
        }
        return charts;
    }

    /// <summary>The mean trajectory of a schedule's runs over the points every run has.</summary>
    private static ChartSeries Trajectory(CoOptimizationResult result, string schedule, Func<TrajectoryPoint, double> value)
    {
        var runs = result.Runs.Where(r => r.Schedule == schedule).ToList();
        int points = runs.Count == 0 ? 0 : runs.Min(r => r.Trajectory.Count);
        return new ChartSeries(schedule,
            Enumerable.Range(0, points).Select(i => runs.Average(r => (double)r.Trajectory[i].Batches)).ToList(),
            Enumerable.Range(0, points).Select(i => runs.Average(r => value(r.Trajectory[i]))).ToList());
    }

    private static IReadOnlyList<Chart> SelfEnhancement(SelfEnhancementResult result)
    {
        var series = new List<ChartSeries>();
        foreach (var judge in result.Summaries.Select(s => s.Judge).Distinct())
        {
            var rows = result.Summaries.Where(s => s.Judge == judge).OrderBy(s => s.Round).ToList();
            foreach (var (what, pick) in new (string, Func<RoundSummary, SummaryStatistics>)[] { ("conformity", r => r.Conformity), ("competence", r => r.Competence) })
                series.Add(new ChartSeries($"{judge} judge: {what}", rows.Select(r => (double)r.Round).ToList(), rows.Select(r => pick(r).Mean).ToList())
                {
                    YIntervals = rows.Select(r => Interval(pick(r))).ToList(),
                });
        }
        if (series.Count == 0) return [];
        int seeds = result.Options.Seeds.Count;
        return
        [
            new XYChart("rounds", Title("Self-enhancement: held-out scores per round", seeds, series.Any(s => s.HasIntervals)),
                new ChartAxis("round (0 = SFT policy)") { IntegerTicks = true }, ChartAxis.Rate("held-out score"), series) { Connect = true, Dodge = 0.04 },
        ];
    }

    private static IReadOnlyList<Chart> Sandwiching(SandwichingResult result)
    {
        ChartBar[] bars =
        [
            Bar("judge alone", result.NoHelp), Bar("judge + consultant", result.Consultancy),
            Bar("judge + debate", result.Debate), Bar("expert (all features)", result.Expert),
        ];
        return
        [
            new BarChart("judge-accuracy", Title("Weak judge accuracy by protocol", result.Seeds.Count, bars.Any(b => b.Interval.Exists)),
                ChartAxis.Rate("test accuracy"), bars) { ReferenceLines = [new("chance", 1.0 / result.Options.Task.Classes)] },
        ];
    }

    private static IReadOnlyList<Chart> GapAnnealing(GapAnnealingResult result)
    {
        var m = result.Summary;
        var ladder = result.Options.Ladder.Select(t => t.Name).ToList();
        foreach (var rung in m.Rungs.Where(r => !ladder.Contains(r.Trunk))) ladder.Add(rung.Trunk);
        double At(string trunk) => ladder.IndexOf(trunk);
        var target = result.PerSeed.Count > 0 ? result.PerSeed[0].Target : ladder[^1];
        int directSteps = result.PerSeed.Count > 0 ? result.PerSeed[0].DirectSteps : 0;
        // The two direct students sit beside the chain's last student, not on it, so their markers and intervals stay apart.
        var series = new List<ChartSeries>
        {
            new("chained (each round's student)", m.Rungs.Select(r => At(r.Trunk)).ToList(), m.Rungs.Select(r => r.TestAccuracy.Mean).ToList())
                { YIntervals = m.Rungs.Select(r => Interval(r.TestAccuracy)).ToList() },
            new("ceiling (ground truth)", m.Rungs.Select(r => At(r.Trunk)).ToList(), m.Rungs.Select(r => r.CeilingAccuracy).ToList()),
            new($"direct, {directSteps} updates", [At(target) + 0.12], [m.Direct.Mean]) { YIntervals = [Interval(m.Direct)] },
            new($"direct, {result.Options.StepsPerRound} updates", [At(target) + 0.24], [m.DirectOneRound.Mean]) { YIntervals = [Interval(m.DirectOneRound)] },
        };
        var x = new ChartAxis("student trunk (width-depth), up the ladder") { Categories = ladder };
        return
        [
            new XYChart("chain-accuracy", Title("Test accuracy along the chain", m.Chained.Count, series.Any(s => s.HasIntervals)),
                x, ChartAxis.Rate("test accuracy"), series)
            { Connect = true, ReferenceLines = [new($"weak {ladder[0]}", m.Weak.Mean)] },
        ];
    }

    private static IReadOnlyList<Chart> DiversifiedSupervision(DiversifiedSupervisionResult result)
    {
        int seeds = result.Seeds.Count;
        var options = result.Options;
        var charts = new List<Chart>();
        var copied = result.Variants.Select(v => Bar(Label(v), v.MaxCopiedFraction)).ToList();
        double ceilingCopies = result.PerSeed.Count == 0 ? double.NaN : result.PerSeed.Average(s => s.CeilingCopies.Count == 0 ? double.NaN : s.CeilingCopies.Max(c => c.CopiedFraction));
        if (copied.Count > 0)
            charts.Add(new BarChart("copied-errors", Title("Largest share of one member's errors the student copies", seeds, copied.Any(b => b.Interval.Exists)),
                ChartAxis.Rate("copied fraction"), copied) { ReferenceLines = Finite(("ceiling (coincidence)", ceilingCopies)) });

        // Per member: the student it supervised alone against the ensemble's student.
        var ensemble = result.Variants.FirstOrDefault(v => v.Variant == DiversityVariant.Ensemble);
        if (ensemble is not null)
        {
            var bars = new List<ChartBar>();
            for (int i = 0; i < options.Members.Count && i < ensemble.Members.Count; i++)
            {
                string member = options.Members[i].Name;
                var own = result.Variants.FirstOrDefault(v => v.Variant == DiversityVariant.Single && v.Supervisor == member);
                if (own is not null && i < own.Members.Count) bars.Add(Bar($"{member}: own", own.Members[i].CopiedFraction) with { Group = "its own student" });
                bars.Add(Bar($"{member}: ensemble", ensemble.Members[i].CopiedFraction) with { Group = "the ensemble's student" });
            }
            charts.Add(new BarChart("copied-errors-per-member", Title("Member errors copied: own student vs ensemble's", seeds, bars.Any(b => b.Interval.Exists)),
                ChartAxis.Rate("copied fraction"), bars));
        }

        var accuracy = result.Variants.Select(v => Bar(Label(v), v.StudentAccuracy)).ToList();
        if (accuracy.Count > 0)
        {
            double ceiling = result.PerSeed.Count == 0 ? double.NaN : result.PerSeed.Average(s => s.CeilingAccuracy);
            double weak = result.PerSeed.Count == 0 || options.Members.Count == 0 ? double.NaN : result.PerSeed.Average(s => s.MemberAccuracies[0]);
            charts.Add(new BarChart("student-accuracy", Title("Student test accuracy by supervision", seeds, accuracy.Any(b => b.Interval.Exists)),
                ChartAxis.Rate("test accuracy"), accuracy)
            { ReferenceLines = Finite(("ceiling", ceiling), ($"weak {(options.Members.Count > 0 ? options.Members[0].Name : "")}", weak)) });
        }
        return charts;

        static string Label(DiversityVariantSummary v) => v.Variant switch
        {
            DiversityVariant.Single => v.Supervisor,
            DiversityVariant.Ensemble => "ensemble",
            DiversityVariant.AgreementWeighted => "agreement-weighted",
            DiversityVariant.Curriculum => "curriculum",
            _ => "ensemble + curriculum",
        };
    }

    // ---- helpers -----------------------------------------------------------------------------------------------------

    private static string Seeds(int count) => count == 1 ? "seed" : "seeds";

    /// <summary>"text (detail, N seeds, 95% CI)": the 95% CI is named exactly when intervals are drawn.</summary>
    private static string Title(string text, int seeds, bool intervals, string? detail = null) =>
        $"{text} ({(detail is null ? "" : detail + ", ")}{seeds} {Seeds(seeds)}{(intervals ? ", 95% CI" : "")})";

    private static ChartInterval Interval(SummaryStatistics? s) => s is null ? ChartInterval.None : new(s.Lower, s.Upper);

    private static ChartBar Bar(string label, SummaryStatistics? s) => s is null ? new ChartBar(label, double.NaN) : new ChartBar(label, s.Mean, Interval(s));

    private static IReadOnlyList<ReferenceLine> Finite(params (string Label, double Y)[] lines) =>
        lines.Where(l => double.IsFinite(l.Y)).Select(l => new ReferenceLine(l.Label, l.Y)).ToList();
}
