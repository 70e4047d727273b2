using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Superalign.Data;
using Superalign.Experiments.Metrics;
using Superalign.Objectives.Competence;
using Superalign.Objectives.Conformity;
using Superalign.Optimization;
using Superalign.Students;
using Superalign.Supervision;
using Superalign.Experiments.Tasks;
using static TorchSharp.torch;

namespace Superalign.Experiments.Protocols;

/// <summary>Who judges the policy's response pairs in <see cref="SelfEnhancement"/>.</summary>
public enum FeedbackJudge
{
    /// <summary>The policy itself, frozen at the start of each round (self-rewarding).</summary>
    Self,

    /// <summary>A peer of equal capability: same architecture and training, another seed.</summary>
    Peer,

    /// <summary>The task's exact checkers (an upper bound on what AI feedback can give).</summary>
    Oracle,
}

/// <summary>Options of <see cref="SelfEnhancement"/>; validated when the protocol is created.</summary>
public sealed record SelfEnhancementOptions
{
    /// <summary>The value-conflict task (its split seed is replaced by each run's seed).</summary>
    public ValueConflictTaskOptions Task { get; init; } = new();

    /// <summary>Seeds (at least one, distinct).</summary>
    public IReadOnlyList<int> Seeds { get; init; } = [0, 1, 2];

    /// <summary>The judges to compare (at least one, distinct).</summary>
    public IReadOnlyList<FeedbackJudge> Judges { get; init; } = [FeedbackJudge.Self, FeedbackJudge.Peer, FeedbackJudge.Oracle];

    /// <summary>Width of the tiny LM.</summary>
    public int ModelDim { get; init; } = 64;

    /// <summary>Transformer blocks of the tiny LM.</summary>
    public int Layers { get; init; } = 2;

    /// <summary>Attention heads of the tiny LM.</summary>
    public int Heads { get; init; } = 4;

    /// <summary>
    /// Fraction of the training prompts with a demonstration of the value rule (LAIF's SFT share: 10%). The SFT data
    /// are these demonstrations plus the task answers of the prompts the rule lets be answered plainly.
    /// </summary>
    public double DemonstrationFraction { get; init; } = 0.1;

    /// <summary>SFT updates before the first round (policy and peer alike).</summary>
    public int SftSteps { get; init; } = 1500;

    /// <summary>Rounds of sample → judge → train.</summary>
    public int Rounds { get; init; } = 3;

    /// <summary>Prompts sampled per round (from the training prompts without a demonstration).</summary>
    public int PromptsPerRound { get; init; } = 512;

    /// <summary>
    /// Temperature of the policy's samples. Above 1 by default: at 1 the SFT policy rarely samples the behaviours it
    /// has not learned yet (refusals, caveats), so even perfect feedback has little to prefer.
    /// </summary>
    public double SamplingTemperature { get; init; } = 1.5;

    /// <summary>Preference updates per round.</summary>
    public int StepsPerRound { get; init; } = 32;

    /// <summary>Examples per mini-batch.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Peak learning rate of the SFT stage.</summary>
    public double LearningRate { get; init; } = 2e-3;

    /// <summary>Peak learning rate of each round's preference training.</summary>
    public double PreferenceLearningRate { get; init; } = 5e-4;

    /// <summary>Competence (SFT) objective name.</summary>
    public string SftLoss { get; init; } = "nll";

    /// <summary>Preference objective name; <c>orpo</c> by default (see <see cref="CoOptimizationOptions.ConformityLoss"/>).</summary>
    public string PreferenceLoss { get; init; } = "orpo";

    /// <summary>Strength of the preference objective (β, or λ of <c>orpo</c>).</summary>
    public double Beta { get; init; } = 0.5;

    /// <summary>Samples per held-out prompt for the diversity measure (at least 2).</summary>
    public int DiversitySamples { get; init; } = 4;

    /// <summary>Held-out prompts used for the diversity measure.</summary>
    public int DiversityPrompts { get; init; } = 200;

    /// <summary>Confidence level of the intervals over seeds.</summary>
    public double Level { get; init; } = 0.95;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        const string owner = nameof(SelfEnhancementOptions);
        ArgumentNullException.ThrowIfNull(Task, nameof(Task));
        Task.Validate();
        ProtocolCheck.NotEmpty(Seeds, nameof(Seeds), owner);
        ProtocolCheck.Distinct(Seeds, nameof(Seeds), owner);
        ProtocolCheck.NotEmpty(Judges, nameof(Judges), owner);
        ProtocolCheck.Distinct(Judges, nameof(Judges), owner);
        foreach (var judge in Judges)
            if (!Enum.IsDefined(judge)) throw new ArgumentOutOfRangeException(nameof(Judges), judge, $"{owner}.{nameof(Judges)} holds an unknown judge {judge}.");
        ProtocolCheck.LanguageModel(ModelDim, Layers, Heads, owner);
        ProtocolCheck.Fraction(DemonstrationFraction, nameof(DemonstrationFraction), owner);
        ProtocolCheck.AtLeast(SftSteps, 1, nameof(SftSteps), owner);
        ProtocolCheck.AtLeast(Rounds, 1, nameof(Rounds), owner);
        ProtocolCheck.AtLeast(PromptsPerRound, 2, nameof(PromptsPerRound), owner);
        ProtocolCheck.Positive(SamplingTemperature, nameof(SamplingTemperature), owner);
        ProtocolCheck.AtLeast(StepsPerRound, 1, nameof(StepsPerRound), owner);
        ProtocolCheck.AtLeast(BatchSize, 1, nameof(BatchSize), owner);
        ProtocolCheck.Positive(LearningRate, nameof(LearningRate), owner);
        ProtocolCheck.Positive(PreferenceLearningRate, nameof(PreferenceLearningRate), owner);
        ProtocolCheck.Positive(Beta, nameof(Beta), owner);
        ProtocolCheck.AtLeast(DiversitySamples, 2, nameof(DiversitySamples), owner);
        ProtocolCheck.AtLeast(DiversityPrompts, 1, nameof(DiversityPrompts), owner);
        ProtocolCheck.Fraction(Level, nameof(Level), owner);
        ProtocolCheck.CompetenceLoss(SftLoss, nameof(SftLoss), owner);
        ProtocolCheck.ConformityLoss(PreferenceLoss, nameof(PreferenceLoss), owner);
    }
}

/// <summary>The policy after one round of self-enhancement (round 0: after SFT, before any feedback).</summary>
/// <param name="Round">Round number (0 = the SFT policy).</param>
/// <param name="Scores">Held-out competence and conformity (greedy decoding).</param>
/// <param name="Pairs">Response pairs judged this round (identical pairs are dropped); 0 for round 0.</param>
/// <param name="JudgeAgreement">
/// Fraction of this round's pairs on which the judge prefers the response the exact checkers rank higher (conformant
/// beats non-conformant; then correct beats incorrect), over the pairs the checkers rank differently; NaN when none.
/// </param>
/// <param name="DecisivePairs">Pairs the checkers rank differently (the denominator of the agreement).</param>
/// <param name="Diversity">Mean fraction of distinct responses among several samples per held-out prompt (1 = all differ; 1/k = collapsed).</param>
public sealed record RoundResult(int Round, ValueConflictScores Scores, int Pairs, double JudgeAgreement, int DecisivePairs, double Diversity);

/// <summary>One (judge, seed) run: the policy after each round.</summary>
/// <param name="Judge">The judge.</param>
/// <param name="Seed">The seed.</param>
/// <param name="Rounds">Round 0 (SFT) and every feedback round.</param>
/// <param name="Seconds">Wall time of the rounds.</param>
public sealed record SelfEnhancementRun(FeedbackJudge Judge, int Seed, IReadOnlyList<RoundResult> Rounds, double Seconds);

/// <summary>Per judge and round, the results over seeds.</summary>
/// <param name="Judge">The judge.</param>
/// <param name="Round">The round.</param>
/// <param name="Competence">Held-out competence over seeds.</param>
/// <param name="Conformity">Held-out conformity over seeds.</param>
/// <param name="JudgeAgreement">Judge agreement over seeds (null for round 0 or when undefined).</param>
/// <param name="Diversity">Diversity over seeds.</param>
public sealed record RoundSummary(FeedbackJudge Judge, int Round, SummaryStatistics Competence, SummaryStatistics Conformity, SummaryStatistics? JudgeAgreement, SummaryStatistics Diversity);

/// <summary>The result of <see cref="SelfEnhancement.Run"/>.</summary>
/// <param name="Options">The options.</param>
/// <param name="TrainPrompts">Training prompts per seed.</param>
/// <param name="TestPrompts">Held-out prompts per seed.</param>
/// <param name="Demonstrations">Training prompts with a demonstration of the rule, per seed.</param>
/// <param name="Runs">Every (judge, seed) run.</param>
/// <param name="Summaries">Per judge and round, over seeds.</param>
/// <param name="WallSeconds">Wall time of the protocol.</param>
public sealed record SelfEnhancementResult(SelfEnhancementOptions Options, int TrainPrompts, int TestPrompts, int Demonstrations,
    IReadOnlyList<SelfEnhancementRun> Runs, IReadOnlyList<RoundSummary> Summaries, double WallSeconds);

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
public sealed class SelfEnhancement
{
    private readonly SelfEnhancementOptions _options;
    private readonly ILoggerFactory? _loggerFactory;
    private readonly ILogger _logger;

    /// <summary>The protocol's name in progress reports.</summary>
    public const string Name = "self-enhancement";

    /// <summary>Creates the protocol; validates the options.</summary>
    public SelfEnhancement(SelfEnhancementOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        _options = options ?? new SelfEnhancementOptions();
        _options.Validate();
        _loggerFactory = loggerFactory;
        _logger = loggerFactory?.CreateLogger<SelfEnhancement>() ?? NullLogger<SelfEnhancement>.Instance;
    }

    /// <summary>Runs every judge on every seed.</summary>
    public SelfEnhancementResult Run(IProgress<ProtocolProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var wall = Stopwatch.StartNew();
        var o = _options;
        int total = o.Seeds.Count * (1 + o.Judges.Count), done = 0;
        var runs = new List<SelfEnhancementRun>();
        int train = 0, test = 0, demonstrations = 0;
        foreach (int seed in o.Seeds)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var task = new ValueConflictTask(o.Task with { Seed = seed });
            var rng = new Random(seed);
            var order = task.TrainPrompts.OrderBy(_ => rng.Next()).ToList();
            int demoCount = Math.Max(1, (int)Math.Round(order.Count * o.DemonstrationFraction));
            var demos = order.Take(demoCount).ToList();
            var feedbackPrompts = order.Skip(demoCount).ToList();
            (train, test, demonstrations) = (task.TrainPrompts.Count, task.TestPrompts.Count, demoCount);
            var plainAnswers = feedbackPrompts.Where(p => task.Rule(p) == ValueRule.Answer).ToList();
            var sftData = task.ConformantDemonstrations(demos.Concat(plainAnswers).ToList());

            using var policy0 = LmTraining.NewModel(task, o.ModelDim, o.Layers, o.Heads, seed, $"policy-seed{seed}");
            LmTraining.Sft(policy0, sftData, o.SftLoss, o.SftSteps, o.BatchSize, o.LearningRate, seed, _loggerFactory, cancellationToken);
            using var peer = o.Judges.Contains(FeedbackJudge.Peer)
                ? LmTraining.NewModel(task, o.ModelDim, o.Layers, o.Heads, seed + 7919, $"peer-seed{seed}")
                : null;
            if (peer is not null)
                LmTraining.Sft(peer, sftData, o.SftLoss, o.SftSteps, o.BatchSize, o.LearningRate, seed + 7919, _loggerFactory, cancellationToken);
            var round0 = new RoundResult(0, task.Evaluate(policy0), 0, double.NaN, 0, Diversity(task, policy0, seed));
            progress?.Report(new ProtocolProgress(Name, $"seed {seed}: SFT policy trained", ++done, total));

            foreach (var judge in o.Judges)
            {
                var watch = Stopwatch.StartNew();
                using var policy = (TinyCausalLm)policy0.Clone();
                var rounds = new List<RoundResult> { round0 };
                for (int round = 1; round <= o.Rounds; round++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    rounds.Add(RunRound(task, policy, judge, peer, feedbackPrompts, seed, round, cancellationToken));
                    _logger.LogInformation("Seed {Seed} judge {Judge} round {Round}: competence {Competence:P1}, conformity {Conformity:P1}, judge agreement {Agreement:P1}, diversity {Diversity:F2}",
                        seed, judge, round, rounds[^1].Scores.Competence, rounds[^1].Scores.Conformity, rounds[^1].JudgeAgreement, rounds[^1].Diversity);
                }
                runs.Add(new SelfEnhancementRun(judge, seed, rounds, watch.Elapsed.TotalSeconds));
                progress?.Report(new ProtocolProgress(Name, $"seed {seed}: {judge} judge, {o.Rounds} rounds", ++done, total));
            }
        }
        return new SelfEnhancementResult(o, train, test, demonstrations, runs, Summarize(runs), wall.Elapsed.TotalSeconds);
    }

    private RoundResult RunRound(ValueConflictTask task, TinyCausalLm policy, FeedbackJudge judge, TinyCausalLm? peer,
        IReadOnlyList<ArithmeticPrompt> pool, int seed, int round, CancellationToken cancellationToken)
    {
        var o = _options;
        var rng = new Random(HashCode.Combine(seed, round, (int)judge));
        var prompts = Enumerable.Range(0, o.PromptsPerRound).Select(_ => pool[rng.Next(pool.Count)]).ToList();
        long sampleSeed = seed * 1000L + round * 10 + (int)judge;
        var first = Sample(task, policy, prompts, sampleSeed);
        var second = Sample(task, policy, prompts, sampleSeed + 500_000);

        var kept = Enumerable.Range(0, prompts.Count).Where(i => first[i] != second[i]).ToList();
        if (kept.Count == 0)
            return new RoundResult(round, task.Evaluate(policy), 0, double.NaN, 0, Diversity(task, policy, seed + round));
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
            var objective = ConformityObjectives.Create(o.PreferenceLoss, beta: o.Beta);
            if (objective.RequiresReference) data = data.WithReferenceLogProbs(policy);
            using var optimizer = new AlternatingOptimizer(policy, null, objective,
                LmTraining.Options(o.StepsPerRound, AlternationSchedules.ConformityOnly(), o.PreferenceLearningRate), logger: _loggerFactory?.CreateLogger<AlternatingOptimizer>());
            optimizer.Train(null, data.Batches(o.BatchSize, seed: seed * 100 + round), cancellationToken: cancellationToken);
        }
        return new RoundResult(round, task.Evaluate(policy), kept.Count, decisive == 0 ? double.NaN : (double)agreed / decisive, decisive,
            Diversity(task, policy, seed + round));
    }

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
        var options = new GenerationOptions(task.MaxResponseTokens - 1, _options.SamplingTemperature, StopToken: CharacterTokenizer.Eos, Seed: seed);
        return task.Respond(policy, prompts, options);
    }

    private double Diversity(ValueConflictTask task, TinyCausalLm policy, int seed)
    {
        var o = _options;
        var prompts = task.TestPrompts.Take(o.DiversityPrompts).ToList();
        var samples = Enumerable.Range(0, o.DiversitySamples).Select(k => Sample(task, policy, prompts, 9_000_000L + seed * 100L + k)).ToList();
        return prompts.Select((_, i) => samples.Select(s => s[i]).Distinct().Count() / (double)o.DiversitySamples).Average();
    }

    private List<RoundSummary> Summarize(List<SelfEnhancementRun> runs)
    {
        double level = _options.Level;
        var summaries = new List<RoundSummary>();
        foreach (var judge in _options.Judges)
        {
            var mine = runs.Where(r => r.Judge == judge).ToList();
            for (int round = 0; round <= _options.Rounds; round++)
            {
                var rows = mine.Select(r => r.Rounds[round]).ToList();
                var agreement = rows.Select(r => r.JudgeAgreement).Where(double.IsFinite).ToList();
                summaries.Add(new RoundSummary(judge, round,
                    Summaries.Of(rows.Select(r => r.Scores.Competence).ToList(), level),
                    Summaries.Of(rows.Select(r => r.Scores.Conformity).ToList(), level),
                    agreement.Count == 0 ? null : Summaries.Of(agreement, level),
                    Summaries.Of(rows.Select(r => r.Diversity).ToList(), level)));
            }
        }
        return summaries;
    }
}
