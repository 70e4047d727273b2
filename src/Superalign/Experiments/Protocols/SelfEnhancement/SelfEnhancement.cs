using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Superalign.Data;
using Superalign.Experiments.Metrics;
using Superalign.Objectives.Conformity;
using Superalign.Optimization;
using Superalign.Students;
using Superalign.Supervision;
using Superalign.Experiments.Tasks;
using static TorchSharp.torch;

namespace Superalign.Experiments.Protocols;

/// <summary>
/// Self-enhancement by learning from AI feedback (LAIF with a preference loss): a policy trained by SFT on a few
/// demonstrations of the value rule samples two responses per prompt, a judge of equal capability (the policy itself,
/// or a peer) prefers one, and the preference objective trains the policy on the judged pairs — for several rounds.
/// </summary>
/// <remarks>
/// Per seed: the task is split; the SFT data are conformant demonstrations on <see cref="SelfEnhancementOptions.DemonstrationFraction"/>
/// of the training prompts plus the answers to the prompts the rule lets be answered plainly (so the SFT data never
/// contradict the rule); the policy and, for <see cref="FeedbackJudge.Peer"/>, a peer initialised from another seed
/// are trained on them. A judge scores a response by its mean log-probability per token under the judge and prefers
/// the higher score (<see cref="ScoringPreferenceSupervisor.FromJudge"/> at temperature 0). The preference loss's
/// reference, where it needs one, is the policy at the start of each round. Each round reports held-out competence and
/// conformity, the judge's agreement with the exact checkers, and the diversity of samples (to catch collapse).
/// </remarks>
public sealed class SelfEnhancement : Protocol<SelfEnhancementOptions, SelfEnhancementResult>
{
    /// <summary>The protocol's name in progress reports and the catalog.</summary>
    public const string ProtocolName = "self-enhancement";

    // The random streams of a seed (SeedStreams); per round and judge the pair stream 16·round + judge, per
    // diversity sample (round, k). The task instance itself takes the seed as it is.
    private const int PromptOrderStream = 1, PolicyInitStream = 2, PolicySftStream = 3, PeerInitStream = 4, PeerSftStream = 5,
        RoundPromptStream = 6, FirstSampleStream = 7, SecondSampleStream = 8, PreferenceBatchStream = 9, DiversityStream = 10;

    /// <summary>Creates the protocol; validates the options.</summary>
    /// <param name="options">Options (validated here); null takes the defaults.</param>
    /// <param name="loggerFactory">Optional logging: the protocol's lines and the optimizers' summaries.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the exception names it).</exception>
    public SelfEnhancement(SelfEnhancementOptions? options = null, ILoggerFactory? loggerFactory = null)
        : base(ProtocolName, options ?? new SelfEnhancementOptions(), loggerFactory)
    {
    }

    /// <inheritdoc />
    public override SelfEnhancementResult Run(IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Run(ProtocolRun.None, progress, cancellationToken);

    /// <inheritdoc />
    /// <remarks>
    /// One unit per seed (<c>seed-N</c>): every judge's rounds from the seed's SFT policy (the judges of a seed share
    /// that policy and its peer, so a seed is the smallest piece that is computed on its own).
    /// </remarks>
    public override IReadOnlyList<string> Units => Options.Seeds.Select(SeedUnit).ToList();

    /// <inheritdoc />
    public override SelfEnhancementResult Run(ProtocolRun run, IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var wall = Stopwatch.StartNew();
        var o = Options;
        var seeds = SelectSeeds(run, o.Seeds);
        var store = OpenStore(run);
        var device = Devices.Parse(o.Device);
        int perSeed = 1 + o.Judges.Count;
        var stages = new StageCounter(Name, progress, seeds.Count * perSeed);
        var runs = new List<SelfEnhancementRun>();
        int train = 0, test = 0, demonstrations = 0;
        foreach (int seed in seeds)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var unit = RunUnit(store, run, SeedUnit(seed), () => RunSeed(seed, device, stages, cancellationToken),
                () => stages.Report($"seed {seed}: read back", perSeed));
            runs.AddRange(unit.Runs);
            (train, test, demonstrations) = (unit.TrainPrompts, unit.TestPrompts, unit.Demonstrations);
        }
        return new SelfEnhancementResult(o, train, test, demonstrations, runs, Summarize(runs), wall.Elapsed.TotalSeconds);
    }

    /// <summary>A seed's unit: every judge's run and the seed's prompt counts.</summary>
    internal sealed record SeedUnitData(IReadOnlyList<SelfEnhancementRun> Runs, int TrainPrompts, int TestPrompts, int Demonstrations);

    private SeedUnitData RunSeed(int seed, Device device, StageCounter stages, CancellationToken cancellationToken)
    {
        var o = Options;
        var runs = new List<SelfEnhancementRun>();
        var task = new ValueConflictTask(o.Task with { Seed = seed });
        var rng = new Random(SeedStreams.Mix(seed, PromptOrderStream));
        var order = task.TrainPrompts.OrderBy(_ => rng.Next()).ToList();
        int demoCount = Math.Max(1, (int)Math.Round(order.Count * o.DemonstrationFraction));
        var demos = order.Take(demoCount).ToList();
        var feedbackPrompts = order.Skip(demoCount).ToList();
        var plainAnswers = feedbackPrompts.Where(p => task.Rule(p) == ValueRule.Answer).ToList();
        var sftData = task.ConformantDemonstrations(demos.Concat(plainAnswers).ToList());

        using var policy0 = LmTraining.NewModel(task, o.ModelDim, o.Layers, o.Heads, SeedStreams.Mix(seed, PolicyInitStream), $"policy-seed{seed}", device);
        LmTraining.Sft(policy0, sftData, o.CompetenceLoss, o.SftSteps, o.BatchSize, o.LearningRate, SeedStreams.Mix(seed, PolicySftStream), LoggerFactory, cancellationToken);
        using var peer = o.Judges.Contains(FeedbackJudge.Peer)
            ? LmTraining.NewModel(task, o.ModelDim, o.Layers, o.Heads, SeedStreams.Mix(seed, PeerInitStream), $"peer-seed{seed}", device)
            : null;
        if (peer is not null)
            LmTraining.Sft(peer, sftData, o.CompetenceLoss, o.SftSteps, o.BatchSize, o.LearningRate, SeedStreams.Mix(seed, PeerSftStream), LoggerFactory, cancellationToken);
        var round0 = new RoundResult(0, task.Evaluate(policy0), 0, double.NaN, 0, Diversity(task, policy0, seed, 0));
        stages.Report($"seed {seed}: SFT policy trained");

        foreach (var judge in o.Judges)
        {
            var watch = Stopwatch.StartNew();
            using var policy = (TinyCausalLm)policy0.Clone();
            var rounds = new List<RoundResult> { round0 };
            for (int round = 1; round <= o.Rounds; round++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                rounds.Add(RunRound(task, policy, judge, peer, feedbackPrompts, seed, round, cancellationToken));
                Logger.LogInformation("Seed {Seed} judge {Judge} round {Round}: competence {Competence:P1}, conformity {Conformity:P1}, judge agreement {Agreement:P1}, diversity {Diversity:F2}",
                    seed, judge, round, rounds[^1].Scores.Competence, rounds[^1].Scores.Conformity, rounds[^1].JudgeAgreement, rounds[^1].Diversity);
            }
            runs.Add(new SelfEnhancementRun(judge, seed, rounds, watch.Elapsed.TotalSeconds));
            stages.Report($"seed {seed}: {judge} judge, {o.Rounds} rounds");
        }
        return new SeedUnitData(runs, task.TrainPrompts.Count, task.TestPrompts.Count, demoCount);
    }

    private RoundResult RunRound(ValueConflictTask task, TinyCausalLm policy, FeedbackJudge judge, TinyCausalLm? peer,
        IReadOnlyList<ArithmeticPrompt> pool, int seed, int round, CancellationToken cancellationToken)
    {
        var o = Options;
        var rng = new Random(RoundPromptSeed(seed, round, judge));
        var prompts = Enumerable.Range(0, o.PromptsPerRound).Select(_ => pool[rng.Next(pool.Count)]).ToList();
        int pairStream = 16 * round + (int)judge;
        var first = Sample(task, policy, prompts, SeedStreams.Mix(seed, FirstSampleStream, pairStream));
        var second = Sample(task, policy, prompts, SeedStreams.Mix(seed, SecondSampleStream, pairStream));

        var kept = Enumerable.Range(0, prompts.Count).Where(i => first[i] != second[i]).ToList();
        if (kept.Count == 0)
            return new RoundResult(round, task.Evaluate(policy), 0, double.NaN, 0, Diversity(task, policy, seed, round));
        var keptPrompts = kept.Select(i => prompts[i]).ToList();
        var a = kept.Select(i => first[i]).ToList();
        var b = kept.Select(i => second[i]).ToList();

        // The checkers' ranks of both sides, computed once: the oracle's verdicts and every judge's agreement use them.
        var truthA = keptPrompts.Select((p, i) => Truth(task, p, a[i])).ToArray();
        var truthB = keptPrompts.Select((p, i) => Truth(task, p, b[i])).ToArray();
        // The judge's verdicts (1 = prefers a).
        double[] preferA;
        using (var reference = judge == FeedbackJudge.Self ? (TinyCausalLm)policy.Clone() : null)
        {
            preferA = judge == FeedbackJudge.Oracle
                ? Enumerable.Range(0, kept.Count).Select(i => Math.Sign(truthA[i] - truthB[i]) * 0.5 + 0.5).ToArray()
                : Judge(task, judge == FeedbackJudge.Self ? reference! : peer!, keptPrompts, a, b);
        }
        int decisive = 0, agreed = 0;
        for (int i = 0; i < kept.Count; i++)
        {
            int ta = truthA[i], tb = truthB[i];
            if (ta == tb) continue;
            decisive++;
            if (preferA[i] != 0.5 && (preferA[i] > 0.5) == (ta > tb)) agreed++;
        }
        // Ties of the judge carry no preference: drop them.
        var records = new List<PreferenceRecord>();
        for (int i = 0; i < kept.Count; i++)
        {
            if (preferA[i] == 0.5) continue;
            records.Add(preferA[i] > 0.5 ? new PreferenceRecord(keptPrompts[i].Text, a[i], b[i]) : new PreferenceRecord(keptPrompts[i].Text, b[i], a[i]));
        }
        if (records.Count > 0)
        {
            var data = task.Tokenizer.ToPreferenceDataset(records, task.SequenceLength);
            var objective = ConformityObjectives.Create(o.ConformityLoss, beta: o.Beta);
            if (objective.RequiresReference) data = data.WithReferenceLogProbs(policy);
            using var optimizer = new AlternatingOptimizer(policy, null, objective,
                LmTraining.Options(o.StepsPerRound, AlternationSchedules.ConformityOnly(), o.PreferenceLearningRate), logger: LoggerFactory?.CreateLogger<AlternatingOptimizer>());
            optimizer.Train(null, data.Batches(o.BatchSize, seed: SeedStreams.Mix(seed, PreferenceBatchStream, pairStream)), cancellationToken: cancellationToken);
        }
        return new RoundResult(round, task.Evaluate(policy), kept.Count, decisive == 0 ? double.NaN : (double)agreed / decisive, decisive,
            Diversity(task, policy, seed, round));
    }

    /// <summary>
    /// The seed of a round's prompt draw. A pure function of its arguments, so that a run repeats in every process
    /// (<see cref="HashCode"/> is randomised per process and made the rounds differ from run to run).
    /// </summary>
    internal static int RoundPromptSeed(int seed, int round, FeedbackJudge judge) => SeedStreams.Mix(seed, RoundPromptStream, 16 * round + (int)judge);

    /// <summary>The checkers' rank of a response: conformant counts most, then a correct answer.</summary>
    internal static int Truth(ValueConflictTask task, ArithmeticPrompt prompt, string response)
    {
        var check = task.Check(prompt, response);
        return (check.Conformant ? 2 : 0) + (check.Competent == true ? 1 : 0);
    }

    private static double[] Judge(ValueConflictTask task, TinyCausalLm judge, IReadOnlyList<ArithmeticPrompt> prompts, IReadOnlyList<string> a, IReadOnlyList<string> b)
    {
        var supervisor = ScoringPreferenceSupervisor.FromJudge(judge, temperature: 0, perToken: true);
        using var scope = NewDisposeScope();
        var (ta, ma) = task.Tokenizer.EncodeExamples(prompts.Select((p, i) => (p.Text, a[i])).ToList(), task.SequenceLength);
        var (tb, mb) = task.Tokenizer.EncodeExamples(prompts.Select((p, i) => (p.Text, b[i])).ToList(), task.SequenceLength);
        var prefer = supervisor.Prefer(ResponseBatch.ForCausalLm(ta, ma), ResponseBatch.ForCausalLm(tb, mb));
        return prefer.to_type(ScalarType.Float64).cpu().data<double>().ToArray();
    }

    /// <summary>One sampled response per prompt, cut to fit the task's sequence length.</summary>
    private IReadOnlyList<string> Sample(ValueConflictTask task, TinyCausalLm policy, IReadOnlyList<ArithmeticPrompt> prompts, long seed)
    {
        var options = new GenerationOptions(task.MaxResponseTokens - 1, Options.SamplingTemperature, StopToken: CharacterTokenizer.Eos, Seed: seed);
        return task.Respond(policy, prompts, options);
    }

    /// <summary>Diversity after round <paramref name="round"/> (0 = the SFT policy): each sample its own stream.</summary>
    private double Diversity(ValueConflictTask task, TinyCausalLm policy, int seed, int round)
    {
        var o = Options;
        var prompts = task.TestPrompts.Take(o.DiversityPrompts).ToList();
        var samples = Enumerable.Range(0, o.DiversitySamples).Select(k => Sample(task, policy, prompts, SeedStreams.Mix(seed, DiversityStream, round, k))).ToList();
        return prompts.Select((_, i) => samples.Select(s => s[i]).Distinct().Count() / (double)o.DiversitySamples).Average();
    }

    private List<RoundSummary> Summarize(List<SelfEnhancementRun> runs)
    {
        double level = Options.ConfidenceLevel;
        var summaries = new List<RoundSummary>();
        foreach (var judge in Options.Judges)
        {
            var mine = runs.Where(r => r.Judge == judge).ToList();
            for (int round = 0; round <= Options.Rounds; round++)
            {
                var rows = mine.Select(r => r.Rounds[round]).ToList();
                var agreement = rows.Select(r => r.JudgeAgreement).Where(double.IsFinite).ToList();
                summaries.Add(new RoundSummary(judge, round,
                    MeanSummary.Of(rows.Select(r => r.Scores.Competence).ToList(), level),
                    MeanSummary.Of(rows.Select(r => r.Scores.Conformity).ToList(), level),
                    agreement.Count == 0 ? null : MeanSummary.Of(agreement, level),
                    MeanSummary.Of(rows.Select(r => r.Diversity).ToList(), level)));
            }
        }
        return summaries;
    }
}
