// The co-optimization framework's two principles on the built-in representation task:
//  A. gap annealing — a chain of teacher–student rounds up the trunk ladder (w8-d1 → w16-d1 → w32-d2 → w64-d3 →
//     w128-d4), each accepted student supervising the next, against direct weak → strong supervision at the same
//     budget of updates;
//  B. diversified supervision — one weak supervisor vs an ensemble of diverse ones (mean labels, agreement-weighted
//     loss) vs easy-to-hard curricula, and how many of each supervisor's errors the strong student copies.
// Prints tables with 95% intervals over seeds, writes result.json and charts (PNG and SVG).
//
//   dotnet run -c Release --project samples/GapAnnealing -- [--seeds 5] [--acceptance margin|always|bootstrap]
//       [--margin 0] [--schedule one|stride:K|delta:D] [--probe 500] [--pacing cumulative|partitioned]
//       [--ladder w8-d1,w16-d1,w32-d2,w64-d3,w128-d4] [--members w16-d1,w16-d1-s1,w8-d1] [--student w128-d4]
//       [--only annealing|diversity]
//       [--out artifacts/gap-annealing] [--device auto] [--threads 1]
//
// --threads defaults to 1: the models are tiny, and on a small or shared CPU one TorchSharp thread is several times
// faster than many (0 keeps TorchSharp's default). With the same thread count the results are reproducible.
using System.Diagnostics;
using System.Globalization;
using Superalign.Charts;
using Superalign.Data;
using Superalign.Experiments.Metrics;
using Superalign.Experiments.Protocols;
using Superalign.Samples;
using Superalign.Experiments.Tasks;
using TorchSharp;

const string Usage = "--seeds N, --acceptance margin|always|bootstrap, --margin M, --schedule one|stride:K|delta:D, --probe N, " +
                     "--pacing cumulative|partitioned, --ladder w8-d1,w16-d1,..., --members w16-d1,w8-d1,..., --student w128-d4, --only annealing|diversity, --out DIR, --device D, --threads N";
// Every value is read and both protocols' options are built and validated (whatever --only says) before any work: a bad
// one prints one line and exits with 2, not a stack trace after part A.
var arguments = SampleArguments.ParseOrExit(args, "GapAnnealing", Usage)
    .Bind("AcceptanceMargin", "margin").Bind("ProbeSize", "probe").Bind("CurriculumPacing", "pacing");
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
int seeds = arguments.OrExit(() => arguments.Int("seeds", 5, min: 1, max: 1000)), threads = arguments.OrExit(() => arguments.Int("threads", 1, min: 0));
string device = arguments.OrExit(() => arguments.Device("device", "auto"));
string only = arguments.OrExit(() => arguments.Choice("only", "both", "annealing", "diversity", "both"));
var acceptance = arguments.OrExit(() => arguments.Choice("acceptance", "margin", "margin", "always", "bootstrap") switch
{
    "margin" => AcceptanceRule.Margin,
    "always" => AcceptanceRule.Always,
    _ => AcceptanceRule.BootstrapLowerBound,
});
var schedule = arguments.OrExit(() => Schedule(arguments.Text("schedule", "one")));
var pacing = arguments.OrExit(() => arguments.Choice("pacing", "cumulative", "cumulative", "partitioned") == "cumulative"
    ? CurriculumPacing.Cumulative : CurriculumPacing.Partitioned);
var ladderSpecs = arguments.OrExit(() => arguments.Optional("ladder")?.Split(',').Select(t => Trunk(t, "ladder")).ToArray());
var memberSpecs = arguments.OrExit(() => arguments.Optional("members")?.Split(',').Select(t => Trunk(t, "members")).ToArray());
var studentSpec = arguments.OrExit(() => arguments.Optional("student") is { } text ? Trunk(text, "student") : null);
int[] seedList = Enumerable.Range(0, seeds).ToArray();
var annealingOptions = arguments.OrExit(() =>
{
    var o = new GapAnnealingOptions
    {
        Seeds = seedList,
        Acceptance = acceptance,
        AcceptanceMargin = arguments.Double("margin", 0),
        Schedule = schedule,
        ProbeSize = arguments.Int("probe", 500),
        Device = device,
    };
    if (ladderSpecs is not null) o = o with { Ladder = ladderSpecs };
    o.Validate();
    return o;
});
var diversityOptions = arguments.OrExit(() =>
{
    var o = new DiversifiedSupervisionOptions { Seeds = seedList, CurriculumPacing = pacing, Device = device };
    if (memberSpecs is not null) o = o with { Members = memberSpecs };
    if (studentSpec is not null) o = o with { Student = studentSpec };
    o.Validate();
    return o;
});
arguments.DeviceOrExit("device", "auto", () => torch.cuda.is_available());
string output = arguments.OutputDirectoryOrExit("out", Path.Combine("artifacts", "gap-annealing"));
if (threads > 0) torch.set_num_threads(threads);
var watch = Stopwatch.StartNew();
var progress = new SynchronousProgress(p => { if (!Console.IsErrorRedirected) Console.Error.Write($"\r{p.ToString(),-110}"); });
void ClearProgress() { if (!Console.IsErrorRedirected) Console.Error.Write($"\r{new string(' ', 110)}\r"); }

GapAnnealingResult? annealing = null;
DiversifiedSupervisionResult? diversity = null;
var charts = new List<string>();

// ---------------------------------------------------------------- A. gap annealing
if (only is "both" or "annealing")
{
    var options = annealingOptions;
    Console.WriteLine($"A. gap annealing: ladder {string.Join(" → ", options.Ladder.Select(t => t.Name))}; schedule: {options.Schedule}; " +
                      $"acceptance: {options.Acceptance} (margin {options.AcceptanceMargin:P1}) on {options.ProbeSize} probe examples per seed");
    Console.WriteLine($"   {options.StepsPerRound} updates per round at lr {options.LearningRate}, batch {options.BatchSize}, loss {options.CompetenceLoss}; " +
                      $"seeds {string.Join(",", options.Seeds)}; torch threads {torch.get_num_threads()}");
    annealing = new GapAnnealing(options).Run(progress);
    ClearProgress();
    var s = annealing.SampleSizes;
    Console.WriteLine($"   data: A = {s.WeakTraining} (weak model, ground truth), B = {s.StudentTraining} (students, ceilings), probe {s.Probe}, test {s.Test}; device {annealing.Device}");
    Console.WriteLine($"   trunks (held-out R² of h* read linearly): {string.Join(", ", annealing.Trunks.Select(t => $"{t.Spec.Name} {t.RepresentationR2:F2}"))}");
    Console.WriteLine();
    Console.WriteLine("   rounds (probe accuracy supervisor → student, difference with its 95% paired bootstrap interval over probe examples; test accuracy)");
    Console.WriteLine($"   {"seed",4} {"round",5} {"supervisor → student",-22} {"probe",-15} {"Δ probe [95% CI]",-24} {"verdict",-8} {"test",-15} {"ceiling",7} {"PGR",5}");
    foreach (var seed in annealing.PerSeed)
        foreach (var r in seed.Rounds)
            Console.WriteLine($"   {seed.Seed,4} {r.Round,5} {$"{r.Supervisor} → {r.Student}",-22} {$"{r.SupervisorProbeAccuracy:P1} → {r.StudentProbeAccuracy:P1}",-15} " +
                              $"{$"{r.Decision.Difference:+0.0%;-0.0%;0.0%} [{r.Decision.Interval.Lower:+0.0%;-0.0%;0.0%}, {r.Decision.Interval.Upper:+0.0%;-0.0%;0.0%}]",-24} " +
                              $"{(r.Decision.Accepted ? "accepted" : "rejected"),-8} {$"{r.SupervisorTestAccuracy:P1} → {r.StudentTestAccuracy:P1}",-15} {r.CeilingTestAccuracy,7:P1} {Num(r.Pgr),5}");
    Console.WriteLine();
    var first = annealing.PerSeed[0];
    Console.WriteLine($"   final students ({first.Target}) per seed: chained vs direct weak → strong with the chain's budget ({first.ChainSteps} updates) and with one round's ({options.StepsPerRound})");
    Console.WriteLine($"   {"seed",4} {"weak",6} {"chained",7} {"direct",7} {"direct1",7} {"ceiling",7} {"PGR ch",6} {"PGR dir",7} {"chained − direct [95% CI]",-27} {"acc/rej",7} {"weak errors copied ch/dir",-25} {"chain ends with",-16}");
    foreach (var r in annealing.PerSeed)
        Console.WriteLine($"   {r.Seed,4} {r.WeakTestAccuracy,6:P1} {r.ChainedAccuracy,7:P1} {r.DirectAccuracy,7:P1} {r.DirectOneRoundAccuracy,7:P1} {r.CeilingAccuracy,7:P1} {Num(r.ChainedPgr),6} {Num(r.DirectPgr),7} " +
                          $"{$"{r.ChainedMinusDirect.Estimate:+0.0%;-0.0%;0.0%} [{r.ChainedMinusDirect.Lower:+0.0%;-0.0%;0.0%}, {r.ChainedMinusDirect.Upper:+0.0%;-0.0%;0.0%}]",-27} {$"{r.Accepted}/{r.Rejected}",7} " +
                          $"{$"{r.ChainedWeakErrors.CopiedFraction:P1} / {r.DirectWeakErrors.CopiedFraction:P1}",-25} {$"{r.ChainOutput} {r.ChainOutputAccuracy:P1}",-16}");
    var m = annealing.Summary;
    Console.WriteLine();
    Console.WriteLine($"   over {m.Chained.Count} seeds (mean [95% t-interval]):");
    Console.WriteLine($"     weak {T(m.Weak)}   ceiling {T(m.Ceiling)}");
    Console.WriteLine($"     chained {T(m.Chained)}   direct (same budget) {T(m.Direct)}   direct (one round) {T(m.DirectOneRound)}   chain output {T(m.ChainOutput)}");
    Console.WriteLine($"     PGR chained {TNum(m.ChainedPgr)}   PGR direct {TNum(m.DirectPgr)}");
    Console.WriteLine($"     chained − direct {TDiff(m.ChainedMinusDirect)} (paired over seeds; chained better on {m.SeedsChainedBetter} of {m.Chained.Count} seeds)");
    Console.WriteLine($"     weak-model errors copied: chained {T(m.ChainedCopiedFraction)}, direct {T(m.DirectCopiedFraction)}");
    Console.WriteLine($"     rounds accepted {m.Accepted}, rejected {m.Rejected}; per size: " +
                      string.Join(", ", m.Rungs.Select(r => $"{r.Trunk} {r.Accepted}/{r.Rounds} accepted, test {r.TestAccuracy.Mean:P1}")));
    Console.WriteLine();

    // Chart: test accuracy of each round's student against its size, with the ceilings and the direct students.
    charts.AddRange(ProtocolCharts.Write(annealing, output));
}

// ---------------------------------------------------------------- B. diversified supervision
if (only is "both" or "diversity")
{
    var options = diversityOptions;
    Console.WriteLine($"B. diversified supervision: members {string.Join(", ", options.Members.Select(t => t.Name))} (each trained on A with ground truth), " +
                      $"student {options.Student.Name}; {options.Steps} updates, loss {options.CompetenceLoss}; curriculum {options.CurriculumStages} stages, {options.CurriculumPacing}; seeds {string.Join(",", options.Seeds)}");
    diversity = new DiversifiedSupervision(options).Run(progress);
    ClearProgress();
    Console.WriteLine();
    Console.WriteLine("   supervisors per seed (test accuracy; members' argmax split; agreement weights on B)");
    foreach (var s in diversity.PerSeed)
        Console.WriteLine($"   seed {s.Seed}: {string.Join(", ", options.Members.Select((t, i) => $"{t.Name} {s.MemberAccuracies[i]:P1}"))}; ensemble mean {s.EnsembleAccuracy:P1}; " +
                          $"split on {s.Disagreement.ArgmaxDisagreement:P1}; mean weight {s.MeanAgreementWeight:F3}, unanimous {s.UnanimousFraction:P1}; ceiling {s.CeilingAccuracy:P1}");
    Console.WriteLine();
    Console.WriteLine($"   students (mean over {options.Seeds.Count} seeds [95% t]); PGR w.r.t. {options.Members[0].Name} and the ceiling; Δ = paired difference to the student of {options.Members[0].Name} alone");
    Console.WriteLine($"   {"variant",-19} {"supervisor",-10} {"sup acc",7} {"student accuracy",-24} {"PGR",-20} {"Δ accuracy",-24}");
    foreach (var v in diversity.Variants)
        Console.WriteLine($"   {Name(v.Variant),-19} {v.Supervisor,-10} {v.SupervisorAccuracy.Mean,7:P1} {T(v.StudentAccuracy),-24} {TNum(v.Pgr),-20} {TDiff(v.AccuracyVsSingle),-24}");
    Console.WriteLine();
    Console.WriteLine("   share of each member's test errors the student copies (same wrong class), mean [95% t]; in brackets after it, the paired difference");
    Console.WriteLine("   to the student trained on that member alone (negative = copies fewer of that member's errors than its own student)");
    Console.WriteLine($"   {"variant",-19} {"supervisor",-10} " + string.Join(" ", options.Members.Select(t => $"{t.Name,-47}")));
    foreach (var v in diversity.Variants)
        Console.WriteLine($"   {Name(v.Variant),-19} {v.Supervisor,-10} " + string.Join(" ", v.Members.Select(c =>
            $"{$"{T(c.CopiedFraction)} {(c.VersusOwnStudent is { } d ? $"({d.Mean:+0.0%;-0.0%;0.0%} [{d.Lower:+0.0%;-0.0%;0.0%}, {d.Upper:+0.0%;-0.0%;0.0%}])" : "(own student)")}",-47}")));
    Console.WriteLine($"   {"ceiling",-19} {"truth",-10} " + string.Join(" ", diversity.CeilingCopies.Select(c => $"{$"{T(c.CopiedFraction)} (coincidence floor)",-47}")));
    Console.WriteLine();

    // Charts: the largest share of any one member's errors copied, those errors per member, and accuracy, per student.
    charts.AddRange(ProtocolCharts.Write(diversity, output));
}

var path = Path.Combine(output, "result.json");
ProtocolJson.Write(new AnnealingAndDiversityResult(annealing, diversity), path);
Console.WriteLine($"wrote {path} and {string.Join(", ", charts.Select(Path.GetFileName))} in {output}; " +
                  $"gap annealing {annealing?.WallSeconds ?? 0:F1} s, diversified supervision {diversity?.WallSeconds ?? 0:F1} s, program {watch.Elapsed.TotalSeconds:F1} s");
return 0;

/// <summary>A trunk from its name: <c>w16-d1</c>, or <c>w16-d1-s2</c> for trunk seed 2.</summary>
static TrunkSpec Trunk(string name, string option)
{
    var parts = name.Trim().Split('-');
    bool ok = parts.Length is 2 or 3 && parts.All(p => p.Length >= 2) && parts[0][0] == 'w' && parts[1][0] == 'd' && (parts.Length == 2 || parts[2][0] == 's')
        && parts.All(p => int.TryParse(p[1..], NumberStyles.None, CultureInfo.InvariantCulture, out _));
    if (!ok)
        throw new ArgumentException($"--{option}: a trunk is written wW-dD or wW-dD-sS with whole numbers (e.g. w16-d1-s2); got '{name}'.", option);
    int Part(int i) => int.Parse(parts[i][1..], CultureInfo.InvariantCulture);
    return new TrunkSpec(Part(0), Part(1), parts.Length == 3 ? Part(2) : 0);
}

/// <summary>The gap schedule from its name: <c>one</c>, <c>stride:K</c> or <c>delta:D</c>.</summary>
static GapSchedule Schedule(string text)
{
    string s = text.Trim().ToLowerInvariant();
    if (s == "one") return GapSchedule.OneSizeAtATime;
    if (s.StartsWith("stride:", StringComparison.Ordinal) && int.TryParse(s[7..], NumberStyles.Integer, CultureInfo.InvariantCulture, out int k))
        return GapSchedule.Stride(k);
    if (s.StartsWith("delta:", StringComparison.Ordinal) && double.TryParse(s[6..], NumberStyles.Float, CultureInfo.InvariantCulture, out double d))
        return GapSchedule.MinimumCapabilityGap(d);
    throw new ArgumentException($"--schedule must be one, stride:K (K a whole number) or delta:D (D a number); got '{text}'.", "schedule");
}

static string Num(double value) => double.IsNaN(value) ? "excl." : value.ToString("F2", CultureInfo.InvariantCulture);

static string T(SummaryStatistics? s) => s is null ? "n/a"
    : double.IsNaN(s.Lower) ? $"{s.Mean:P1}" : $"{s.Mean:P1} [{s.Lower:P1}, {s.Upper:P1}]";

static string TNum(SummaryStatistics? s) => s is null ? "n/a"
    : double.IsNaN(s.Lower) ? $"{s.Mean:F2}" : $"{s.Mean:F2} [{s.Lower:F2}, {s.Upper:F2}]";

static string TDiff(SummaryStatistics? s) => s is null ? "-"
    : double.IsNaN(s.Lower) ? $"{s.Mean:+0.0%;-0.0%;0.0%}" : $"{s.Mean:+0.0%;-0.0%;0.0%} [{s.Lower:+0.0%;-0.0%;0.0%}, {s.Upper:+0.0%;-0.0%;0.0%}]";

static string Name(DiversityVariant v) => v switch
{
    DiversityVariant.Single => "single",
    DiversityVariant.Ensemble => "ensemble (mean)",
    DiversityVariant.AgreementWeighted => "agreement-weighted",
    DiversityVariant.Curriculum => "curriculum",
    _ => "ensemble+curriculum",
};

/// <summary>Both parts' results, as written to result.json (a part that was not run is null).</summary>
sealed record AnnealingAndDiversityResult(GapAnnealingResult? GapAnnealing, DiversifiedSupervisionResult? DiversifiedSupervision);

/// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool and interleave output).</summary>
sealed class SynchronousProgress(Action<ProtocolProgress> report) : IProgress<ProtocolProgress>
{
    public void Report(ProtocolProgress value) => report(value);
}
