using Superalign.Experiments.Protocols;
using static Superalign.Cli.Reports.ReportFormat;

namespace Superalign.Cli.Reports;

/// <summary>
/// Gap annealing: every round of every seed's chain (probe and test accuracy, the acceptance decision), the final
/// chained students against direct weak → strong ones, and the means over seeds.
/// </summary>
internal static class GapAnnealingReport
{
    public static void Write(GapAnnealingResult annealing, TextWriter output)
    {
        var options = annealing.Options;
        output.WriteLine($"gap annealing: ladder {string.Join(" → ", options.Ladder.Select(t => t.Name))}; schedule: {options.Schedule}; " +
                         $"acceptance: {options.Acceptance} (margin {options.AcceptanceMargin:P1}) on {options.ProbeSize} probe examples per seed");
        output.WriteLine($"   {options.StepsPerRound} updates per round at lr {options.LearningRate}, batch {options.BatchSize}, loss {options.CompetenceLoss}; " +
                         $"seeds {string.Join(",", options.Seeds)}");
        var s = annealing.SampleSizes;
        output.WriteLine($"   data: A = {s.WeakTraining} (weak model, ground truth), B = {s.StudentTraining} (students, ceilings), probe {s.Probe}, test {s.Test}; device {annealing.Device}");
        output.WriteLine($"   trunks (held-out R² of h* read linearly): {string.Join(", ", annealing.Trunks.Select(t => $"{t.Spec.Name} {t.RepresentationR2:F2}"))}");
        output.WriteLine();
        output.WriteLine("   rounds (probe accuracy supervisor → student, difference with its 95% paired bootstrap interval over probe examples; test accuracy)");
        output.WriteLine($"   {"seed",4} {"round",5} {"supervisor → student",-22} {"probe",-15} {"Δ probe [95% CI]",-24} {"verdict",-8} {"test",-15} {"ceiling",7} {"PGR",5}");
        foreach (var seed in annealing.PerSeed)
            foreach (var r in seed.Rounds)
                output.WriteLine($"   {seed.Seed,4} {r.Round,5} {$"{r.Supervisor} → {r.Student}",-22} {$"{r.SupervisorProbeAccuracy:P1} → {r.StudentProbeAccuracy:P1}",-15} " +
                                 $"{$"{r.Decision.Difference:+0.0%;-0.0%;0.0%} [{r.Decision.Interval.Lower:+0.0%;-0.0%;0.0%}, {r.Decision.Interval.Upper:+0.0%;-0.0%;0.0%}]",-24} " +
                                 $"{(r.Decision.Accepted ? "accepted" : "rejected"),-8} {$"{r.SupervisorTestAccuracy:P1} → {r.StudentTestAccuracy:P1}",-15} {r.CeilingTestAccuracy,7:P1} {Pgr(r.Pgr),5}");
        output.WriteLine();
        var first = annealing.PerSeed[0];
        output.WriteLine($"   final students ({first.Target}) per seed: chained vs direct weak → strong with the chain's budget ({first.ChainSteps} updates) and with one round's ({options.StepsPerRound})");
        output.WriteLine($"   {"seed",4} {"weak",6} {"chained",7} {"direct",7} {"direct1",7} {"ceiling",7} {"PGR ch",6} {"PGR dir",7} {"chained − direct [95% CI]",-27} {"acc/rej",7} {"weak errors copied ch/dir",-25} {"chain ends with",-16}");
        foreach (var r in annealing.PerSeed)
            output.WriteLine($"   {r.Seed,4} {r.WeakTestAccuracy,6:P1} {r.ChainedAccuracy,7:P1} {r.DirectAccuracy,7:P1} {r.DirectOneRoundAccuracy,7:P1} {r.CeilingAccuracy,7:P1} {Pgr(r.ChainedPgr),6} {Pgr(r.DirectPgr),7} " +
                             $"{$"{r.ChainedMinusDirect.Estimate:+0.0%;-0.0%;0.0%} [{r.ChainedMinusDirect.Lower:+0.0%;-0.0%;0.0%}, {r.ChainedMinusDirect.Upper:+0.0%;-0.0%;0.0%}]",-27} {$"{r.Accepted}/{r.Rejected}",7} " +
                             $"{$"{r.ChainedWeakErrors.CopiedFraction:P1} / {r.DirectWeakErrors.CopiedFraction:P1}",-25} {$"{r.ChainOutput} {r.ChainOutputAccuracy:P1}",-16}");
        var m = annealing.Summary;
        output.WriteLine();
        output.WriteLine($"   over {m.Chained.Count} seeds (mean [95% t-interval]):");
        output.WriteLine($"     weak {Percent(m.Weak)}   ceiling {Percent(m.Ceiling)}");
        output.WriteLine($"     chained {Percent(m.Chained)}   direct (same budget) {Percent(m.Direct)}   direct (one round) {Percent(m.DirectOneRound)}   chain output {Percent(m.ChainOutput)}");
        output.WriteLine($"     PGR chained {Number(m.ChainedPgr)}   PGR direct {Number(m.DirectPgr)}");
        output.WriteLine($"     chained − direct {Difference(m.ChainedMinusDirect)} (paired over seeds; chained better on {m.SeedsChainedBetter} of {m.Chained.Count} seeds)");
        output.WriteLine($"     weak-model errors copied: chained {Percent(m.ChainedCopiedFraction)}, direct {Percent(m.DirectCopiedFraction)}");
        output.WriteLine($"     rounds accepted {m.Accepted}, rejected {m.Rejected}; per size: " +
                         string.Join(", ", m.Rungs.Select(r => $"{r.Trunk} {r.Accepted}/{r.Rounds} accepted, test {r.TestAccuracy.Mean:P1}")));
    }
}
