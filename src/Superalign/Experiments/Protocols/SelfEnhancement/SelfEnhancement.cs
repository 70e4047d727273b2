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
/// are trained on them. A self or peer judge scores a response by its mean log-probability per token under the judge and
/// prefers the higher score (<see cref="ScoringPreferenceSupervisor.FromJudge"/> at temperature 0); the verifier judge
/// (<see cref="FeedbackJudge.Verifier"/>) is a classifier separate from the policy, trained on a small labelled set of
/// the SFT policy's responses, that prefers the response with the higher expected checkers' rank. The preference loss's
/// reference, where it needs one, is the policy at the start of each round. Each round reports held-out competence and
/// conformity, the judge's agreement with the exact checkers, and the diversity of samples (to catch collapse).
/// <para>On your own data (<see cref="SelfEnhancementOptions.SftData"/>, <see cref="SelfEnhancementOptions.PreferenceData"/>)
/// the SFT file's training rows are the demonstrations, the preference file's training prompts are sampled for
/// feedback, and the held-out rows give competence, conformity (preference accuracy) and the judge's agreement with
/// your labels; the oracle judge is not available. A <see cref="LanguageModelFactory"/> replaces the tiny LM.</para>
/// </remarks>
public sealed class SelfEnhancement : Protocol<SelfEnhancementOptions, SelfEnhancementResult>
{
    /// <summary>The protocol's name in progress reports and the catalog.</summary>
    public const string ProtocolName = "self-enhancement";

    // The random streams of a seed (SeedStreams); per round and judge the pair stream 16·round + judge, per
    // diversity sample (round, k). The task instance itself takes the seed as it is.
    private const int PromptOrderStream = 1, PolicyInitStream = 2, PolicySftStream = 3, PeerInitStream = 4, PeerSftStream = 5,
        RoundPromptStream = 6, FirstSampleStream = 7, SecondSampleStream = 8, PreferenceBatchStream = 9, DiversityStream = 10,
        SftSplitStream = 11, PreferenceSplitStream = 12, VerifierPromptStream = 13, VerifierSampleStream = 14, VerifierInitStream = 15,
        VerifierBatchStream = 16, VerifierTestStream = 17;

    /// <summary>Creates the protocol; validates the options.</summary>
    /// <param name="options">Options (validated here); null takes the defaults.</param>
    /// <param name="loggerFactory">Optional logging: the protocol's lines and the optimizers' summaries.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the exception names it).</exception>
    /// <exception cref="ArgumentException">
    /// <see cref="SelfEnhancementOptions.SftData"/> or <see cref="SelfEnhancementOptions.PreferenceData"/> is missing or
    /// has a bad row (the message names the option and the file:line; the inner exception is the
    /// <see cref="DataFileException"/>): every row is read here, before any training. Or
    /// <see cref="SelfEnhancementOptions.Model"/> or <see cref="SelfEnhancementOptions.Tokenizer"/> is missing or
    /// unreadable, the tokenizer has more ids than the model, or a row does not fit the model's context (the message
    /// names the option and the sizes).
    /// </exception>
    public SelfEnhancement(SelfEnhancementOptions? options = null, ILoggerFactory? loggerFactory = null)
        : base(ProtocolName, options ?? new SelfEnhancementOptions(), loggerFactory)
    {
        _data = LmUserData.Load(Options.SftData, Options.PreferenceData, Options.UserModel, nameof(SelfEnhancementOptions));
    }

    /// <summary>Creates the protocol with your own language-model student in place of the built-in tiny LM.</summary>
    /// <param name="studentFactory">
    /// Makes the policy and the peer of each seed (each judge's run trains a <see cref="IStudent.Clone"/> of the
    /// policy; the self judge is a clone too). The run fingerprint does not see the factory: give a run directory of
    /// its own, or <see cref="ProtocolRun.ExternalInputs"/> naming the model, when you change it.
    /// </param>
    /// <param name="options">Options (validated here); null takes the defaults. ModelDim, Layers and Heads are not used.</param>
    /// <param name="loggerFactory">Optional logging.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the exception names it).</exception>
    /// <exception cref="ArgumentException">A data file is missing or has a bad row (see the other constructor), or <see cref="SelfEnhancementOptions.Model"/> is set too.</exception>
    public SelfEnhancement(LanguageModelFactory studentFactory, SelfEnhancementOptions? options = null, ILoggerFactory? loggerFactory = null)
        : this(options, loggerFactory)
    {
        _factory = studentFactory ?? throw new ArgumentNullException(nameof(studentFactory));
        if (Options.Model is not null)
            throw new ArgumentException($"{nameof(SelfEnhancementOptions)}.{nameof(SelfEnhancementOptions.Model)} and a student factory both name the model: use one.", nameof(studentFactory));
    }

    private readonly LmUserData? _data;
    private readonly LanguageModelFactory? _factory;

    /// <inheritdoc />
    protected override string? DataInputs => _data?.Inputs;

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
            var unit = RunUnit(store, run, SeedUnit(seed), () => _data is null ? RunSeed(seed, device, stages, cancellationToken) : RunSeedOnData(_data, seed, device, stages, cancellationToken),
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
        var task = new ValueConflictTask(o.Task with { Seed = seed });
        var rng = new Random(SeedStreams.Mix(seed, PromptOrderStream));
        var order = task.TrainPrompts.OrderBy(_ => rng.Next()).ToList();
        int demoCount = Math.Max(1, (int)Math.Round(order.Count * o.DemonstrationFraction));
        var demos = order.Take(demoCount).ToList();
        var feedbackPrompts = order.Skip(demoCount).ToList();
        var plainAnswers = feedbackPrompts.Where(p => task.Rule(p) == ValueRule.Answer).ToList();
        var sftData = task.ConformantDemonstrations(demos.Concat(plainAnswers).ToList());

        ResponseVerifier? verifier = null;
        double verifierAccuracy = double.NaN;
        try
        {
            var runs = RunJudges(seed, task.Tokenizer.VocabularySize, task.SequenceLength, device, sftData,
                policy0 =>
                {
                    // The verifier learns from the SFT policy's responses, before any round, so every round's verdicts come from the same verifier.
                    if (o.Judges.Contains(FeedbackJudge.Verifier))
                        (verifier, verifierAccuracy) = TrainVerifier(task, policy0, feedbackPrompts, seed, cancellationToken);
                    return new RoundResult(0, task.Evaluate(policy0), 0, double.NaN, 0, Diversity(task, policy0, seed, 0));
                },
                (policy, peer, judge, round) => RunRound(task, policy, judge, peer, verifier, feedbackPrompts, seed, round, cancellationToken),
                stages, cancellationToken);
            runs = runs.Select(r => r.Judge == FeedbackJudge.Verifier ? r with { VerifierAccuracy = verifierAccuracy } : r).ToList();
            return new SeedUnitData(runs, task.TrainPrompts.Count, task.TestPrompts.Count, demoCount);
        }
        finally
        {
            verifier?.Dispose();
        }
    }

    /// <summary>
    /// The verifier judge of a seed: <see cref="VerifierOptions.Labels"/> distinct prompts of the feedback pool, one
    /// response of the SFT policy each (sampled as the rounds sample), labelled with the checkers' rank, train a
    /// classifier with its own initial weights. Its accuracy is measured the same way on one response per held-out prompt.
    /// </summary>
    private (ResponseVerifier Verifier, double HeldOutAccuracy) TrainVerifier(ValueConflictTask task, ILanguageModelStudent policy0,
        IReadOnlyList<ArithmeticPrompt> pool, int seed, CancellationToken cancellationToken)
    {
        var v = Options.VerifierOrDefault;
        var rng = new Random(SeedStreams.Mix(seed, VerifierPromptStream));
        var prompts = pool.OrderBy(_ => rng.Next()).Take(v.Labels).ToList();
        var responses = Sample(task, policy0, prompts, SeedStreams.Mix(seed, VerifierSampleStream));
        var verifier = new ResponseVerifier(task.Tokenizer, task.SequenceLength, 4, v, SeedStreams.Mix(seed, VerifierInitStream));
        try
        {
            verifier.Train(prompts.Select((p, i) => (p.Text, responses[i])).ToList(), prompts.Select((p, i) => Truth(task, p, responses[i])).ToList(),
                SeedStreams.Mix(seed, VerifierBatchStream), cancellationToken);
            var test = task.TestPrompts;
            var testResponses = Sample(task, policy0, test, SeedStreams.Mix(seed, VerifierTestStream));
            var predicted = verifier.PredictedRanks(test.Select((p, i) => (p.Text, testResponses[i])).ToList());
            double accuracy = test.Select((p, i) => predicted[i] == Truth(task, p, testResponses[i]) ? 1.0 : 0.0).Average();
            Logger.LogInformation("Seed {Seed}: verifier trained on {Labels} labelled responses; rank accuracy on held-out responses {Accuracy:P1}", seed, prompts.Count, accuracy);
            return (verifier, accuracy);
        }
        catch
        {
            verifier.Dispose();
            throw;
        }
    }

    private RoundResult RunRound(ValueConflictTask task, ILanguageModelStudent policy, FeedbackJudge judge, ILanguageModelStudent? peer,
        ResponseVerifier? verifier, IReadOnlyList<ArithmeticPrompt> pool, int seed, int round, CancellationToken cancellationToken)
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
        using (var reference = judge == FeedbackJudge.Self ? (ILanguageModelStudent)policy.Clone() : null)
        {
            preferA = judge == FeedbackJudge.Oracle
                ? Enumerable.Range(0, kept.Count).Select(i => Math.Sign(truthA[i] - truthB[i]) * 0.5 + 0.5).ToArray()
                : judge == FeedbackJudge.Verifier
                ? verifier!.Judge(keptPrompts.Select(p => p.Text).ToList(), a, b)
                : LmTraining.JudgeVerdicts(task.Tokenizer, task.SequenceLength, judge == FeedbackJudge.Self ? reference! : peer!, keptPrompts.Select(p => p.Text).ToList(), a, b);
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
        TrainOnFeedback(policy, task.Tokenizer, task.SequenceLength, records, seed, pairStream, cancellationToken);
        return new RoundResult(round, task.Evaluate(policy), kept.Count, decisive == 0 ? double.NaN : (double)agreed / decisive, decisive,
            Diversity(task, policy, seed, round));
    }

    private ILanguageModelStudent NewModel(int initSeed, string name, int vocabulary, int sequenceLength, Device device) =>
        LmTraining.NewModel(_factory ?? _data?.Factory, new LanguageModelRequest(initSeed, name, vocabulary, sequenceLength, device), Options.ModelDim, Options.Layers, Options.Heads);

    /// <summary>
    /// A seed on your files: the policy (and peer) learn the training rows of <see cref="SelfEnhancementOptions.SftData"/>;
    /// each round samples two responses to prompts drawn from the training rows of
    /// <see cref="SelfEnhancementOptions.PreferenceData"/>, the judge prefers one, and the policy trains on the judged
    /// pairs. Scores: competence on the held-out SFT rows, conformity = preference accuracy on the held-out pairs, judge
    /// agreement = the judge's accuracy on those held-out pairs (there are no exact checkers for your responses).
    /// </summary>
    private SeedUnitData RunSeedOnData(LmUserData data, int seed, Device device, StageCounter stages, CancellationToken cancellationToken)
    {
        var o = Options;
        var split = data.SplitFor(seed, o.HeldOutFraction, SftSplitStream, PreferenceSplitStream);
        var pool = split.PreferenceTrain.Select(r => r.Prompt).Distinct(StringComparer.Ordinal).ToList();
        var diversityPrompts = split.SftTest.Select(r => r.Prompt).Take(o.DiversityPrompts).ToList();
        var sftData = data.SupervisedData(split.SftTrain);
        ValueConflictScores Evaluate(ILanguageModelStudent m) => data.Evaluate(m, split.SftTest, split.PreferenceTest, o.CompetenceMetric);
        double Diverse(ILanguageModelStudent m, int round) => DiversityOnData(data, m, diversityPrompts, seed, round);

        var runs = RunJudges(seed, data.VocabularySize, data.SequenceLength, device, sftData,
            policy0 => new RoundResult(0, Evaluate(policy0), 0, double.NaN, 0, Diverse(policy0, 0)),
            (policy, peer, judge, round) =>
            {
                var rng = new Random(RoundPromptSeed(seed, round, judge));
                var prompts = Enumerable.Range(0, o.PromptsPerRound).Select(_ => pool[rng.Next(pool.Count)]).ToList();
                int pairStream = 16 * round + (int)judge;
                var first = SampleOnData(data, policy, prompts, SeedStreams.Mix(seed, FirstSampleStream, pairStream));
                var second = SampleOnData(data, policy, prompts, SeedStreams.Mix(seed, SecondSampleStream, pairStream));
                var kept = Enumerable.Range(0, prompts.Count).Where(i => first[i] != second[i]).ToList();
                double agreement;
                using (var reference = judge == FeedbackJudge.Self ? (ILanguageModelStudent)policy.Clone() : null)
                {
                    var judgeModel = judge == FeedbackJudge.Self ? reference! : peer!;
                    var keptPrompts = kept.Select(i => prompts[i]).ToList();
                    var a = kept.Select(i => first[i]).ToList();
                    var b = kept.Select(i => second[i]).ToList();
                    var preferA = kept.Count == 0 ? [] : LmTraining.JudgeVerdicts(data.Tokenizer, data.SequenceLength, judgeModel, keptPrompts, a, b, data.Sequences);
                    var records = new List<PreferenceRecord>();
                    for (int i = 0; i < kept.Count; i++)
                    {
                        if (preferA[i] == 0.5) continue;
                        records.Add(preferA[i] > 0.5 ? new PreferenceRecord(keptPrompts[i], a[i], b[i]) : new PreferenceRecord(keptPrompts[i], b[i], a[i]));
                    }
                    // Agreement with your labels, judged before this round's training as the round's pairs were.
                    var test = split.PreferenceTest;
                    var verdicts = LmTraining.JudgeVerdicts(data.Tokenizer, data.SequenceLength, judgeModel, test.Select(r => r.Prompt).ToList(), test.Select(r => r.Chosen).ToList(), test.Select(r => r.Rejected).ToList(), data.Sequences);
                    agreement = verdicts.Average();
                    TrainOnFeedback(policy, data.Tokenizer, data.SequenceLength, records, seed, pairStream, cancellationToken, data.Sequences);
                }
                return new RoundResult(round, Evaluate(policy), kept.Count, agreement, split.PreferenceTest.Count, Diverse(policy, round));
            },
            stages, cancellationToken);
        return new SeedUnitData(runs, pool.Count, split.SftTest.Count, split.SftTrain.Count);
    }

    /// <summary>
    /// A seed's judges: the SFT policy (and, with a peer judge, the peer) trained on <paramref name="sftData"/>, round 0
    /// scored by <paramref name="roundZero"/>, then per judge a clone of the policy through the rounds, each run by
    /// <paramref name="runRound"/> (policy, peer, judge, round).
    /// </summary>
    private List<SelfEnhancementRun> RunJudges(int seed, int vocabulary, int sequenceLength, Device device, SupervisedDataset sftData,
        Func<ILanguageModelStudent, RoundResult> roundZero, Func<ILanguageModelStudent, ILanguageModelStudent?, FeedbackJudge, int, RoundResult> runRound,
        StageCounter stages, CancellationToken cancellationToken)
    {
        var o = Options;
        using var policy0 = NewModel(SeedStreams.Mix(seed, PolicyInitStream), $"policy-seed{seed}", vocabulary, sequenceLength, device);
        LmTraining.Sft(policy0, sftData, o.CompetenceLoss, o.SftSteps, o.BatchSize, o.LearningRate, SeedStreams.Mix(seed, PolicySftStream), LoggerFactory, cancellationToken);
        using var peer = o.Judges.Contains(FeedbackJudge.Peer)
            ? NewModel(SeedStreams.Mix(seed, PeerInitStream), $"peer-seed{seed}", vocabulary, sequenceLength, device)
            : null;
        if (peer is not null)
            LmTraining.Sft(peer, sftData, o.CompetenceLoss, o.SftSteps, o.BatchSize, o.LearningRate, SeedStreams.Mix(seed, PeerSftStream), LoggerFactory, cancellationToken);
        var round0 = roundZero(policy0);
        stages.Report($"seed {seed}: SFT policy trained");

        var runs = new List<SelfEnhancementRun>();
        foreach (var judge in o.Judges)
        {
            var watch = Stopwatch.StartNew();
            using var policy = (ILanguageModelStudent)policy0.Clone();
            var rounds = new List<RoundResult> { round0 };
            for (int round = 1; round <= o.Rounds; round++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                rounds.Add(runRound(policy, peer, judge, round));
                Logger.LogInformation("Seed {Seed} judge {Judge} round {Round}: competence {Competence:P1}, conformity {Conformity:P1}, judge agreement {Agreement:P1}, diversity {Diversity:F2}",
                    seed, judge, round, rounds[^1].Scores.Competence, rounds[^1].Scores.Conformity, rounds[^1].JudgeAgreement, rounds[^1].Diversity);
            }
            runs.Add(new SelfEnhancementRun(judge, seed, rounds, watch.Elapsed.TotalSeconds));
            stages.Report($"seed {seed}: {judge} judge, {o.Rounds} rounds");
        }
        return runs;
    }

    /// <summary>One sampled response per prompt, at most as long as the data's sequence length leaves after the prompt.</summary>
    private IReadOnlyList<string> SampleOnData(LmUserData data, ILanguageModelStudent policy, IReadOnlyList<string> prompts, long seed) =>
        data.Sample(policy, prompts, Options.SamplingTemperature, seed);

    private double DiversityOnData(LmUserData data, ILanguageModelStudent policy, IReadOnlyList<string> prompts, int seed, int round)
    {
        var o = Options;
        var samples = Enumerable.Range(0, o.DiversitySamples).Select(k => SampleOnData(data, policy, prompts, SeedStreams.Mix(seed, DiversityStream, round, k))).ToList();
        return prompts.Select((_, i) => samples.Select(s => s[i]).Distinct().Count() / (double)o.DiversitySamples).Average();
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

    /// <summary>Trains the policy on the judged pairs for <see cref="SelfEnhancementOptions.StepsPerRound"/> updates (nothing without pairs).</summary>
    private void TrainOnFeedback(ILanguageModelStudent policy, ITokenizer tokenizer, int sequenceLength, List<PreferenceRecord> records, int seed, int pairStream,
        CancellationToken cancellationToken, SequenceOptions? sequences = null)
    {
        if (records.Count == 0) return;
        var o = Options;
        var data = tokenizer.ToPreferenceDataset(records, sequenceLength, sequences: sequences);
        var objective = ConformityObjectives.Create(o.ConformityLoss, beta: o.Beta);
        if (objective.RequiresReference) data = data.WithReferenceLogProbs(policy);
        using var optimizer = new AlternatingOptimizer(policy, null, objective,
            LmTraining.Options(o.StepsPerRound, AlternationSchedules.ConformityOnly(), o.PreferenceLearningRate), logger: LoggerFactory?.CreateLogger<AlternatingOptimizer>());
        optimizer.Train(null, data.Batches(o.BatchSize, seed: SeedStreams.Mix(seed, PreferenceBatchStream, pairStream)), cancellationToken: cancellationToken);
    }

    /// <summary>One sampled response per prompt, cut to fit the task's sequence length.</summary>
    private IReadOnlyList<string> Sample(ValueConflictTask task, ILanguageModelStudent policy, IReadOnlyList<ArithmeticPrompt> prompts, long seed)
    {
        var options = new GenerationOptions(task.MaxResponseTokens - 1, Options.SamplingTemperature, StopToken: CharacterTokenizer.Eos, Seed: seed);
        return task.Respond(policy, prompts, options);
    }

    /// <summary>Diversity after round <paramref name="round"/> (0 = the SFT policy): each sample its own stream.</summary>
    private double Diversity(ValueConflictTask task, ILanguageModelStudent policy, int seed, int round)
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
