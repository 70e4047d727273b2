using FsCheck;
using FsCheck.Xunit;
using Superalign.Data;
using Superalign.Experiments.Protocols;
using Superalign.Experiments.Tasks;
using Superalign.Optimization;
using Xunit;

namespace Superalign.Tests.Experiments.Protocols;

public class AlignmentTaxTests
{
    private static AlignmentTaxOptions Small(params AlignmentArm[] arms) => new()
    {
        Seeds = [3, 4],
        Arms = arms,
        ModelDim = 16,
        Layers = 1,
        Heads = 2,
        PretrainSteps = 40,
        BatchBudget = 20,
        BatchSize = 16,
        CheckpointsPerStage = 1,
        Device = "cpu",
    };

    private static AlignmentArm Arm(string name) => AlignmentArm.Defaults().Single(a => a.Name == name);

    [Fact]
    public void Arms_spend_the_budget_as_their_stages_say_and_the_tax_starts_where_preference_training_starts()
    {
        var options = Small(Arm("competence-only"), Arm("sft→orpo"), Arm("orpo→sft"), Arm("joint"), Arm("joint-equal-updates"), Arm("alternating-1:3")) with
        {
            Comparisons = [new("sft→orpo", "orpo→sft"), new("alternating-1:3", "missing-arm")],
        };
        var result = new AlignmentTax(options).Run();
        var runs = result.Runs.Where(r => r.Seed == 3).ToDictionary(r => r.Arm);
        Assert.Equal((20, 20, 0), (runs["competence-only"].Updates, runs["competence-only"].CompetenceBatches, runs["competence-only"].ConformityBatches));
        Assert.Equal((20, 10, 10), (runs["sft→orpo"].Updates, runs["sft→orpo"].CompetenceBatches, runs["sft→orpo"].ConformityBatches));
        Assert.Equal((20, 10, 10), (runs["orpo→sft"].Updates, runs["orpo→sft"].CompetenceBatches, runs["orpo→sft"].ConformityBatches));
        Assert.Equal((10, 10, 10), (runs["joint"].Updates, runs["joint"].CompetenceBatches, runs["joint"].ConformityBatches));
        Assert.Equal((20, 20, 20), (runs["joint-equal-updates"].Updates, runs["joint-equal-updates"].CompetenceBatches, runs["joint-equal-updates"].ConformityBatches));
        Assert.Equal((20, 5, 15), (runs["alternating-1:3"].Updates, runs["alternating-1:3"].CompetenceBatches, runs["alternating-1:3"].ConformityBatches));

        var baseScores = result.Base[0];
        foreach (var run in result.Runs.Where(r => r.Seed == 3))
        {
            Assert.Equal(baseScores.Competence, run.Trajectory[0].Competence);
            Assert.Equal(run.Scores.Competence, run.Trajectory[^1].Competence);
            Assert.Equal(run.CompetenceBatches + run.ConformityBatches, run.Trajectory[^1].Batches);
        }
        // Sequential: base, a checkpoint, the SFT stage's end (the pre-preference model), a checkpoint, the end.
        var sequential = runs["sft→orpo"];
        Assert.Equal([0, 5, 10, 15, 20], sequential.Trajectory.Select(p => p.Batches));
        Assert.Equal(sequential.Trajectory[2].Competence, sequential.PrePreferenceCompetence);
        // Arms that train conformity from their first stage, and the control that never does, start from the base.
        foreach (var name in new[] { "orpo→sft", "joint", "alternating-1:3", "competence-only" })
            Assert.Equal(baseScores.Competence, runs[name].PrePreferenceCompetence);
        Assert.Equal(sequential.PrePreferenceCompetence - sequential.Scores.Competence, sequential.CompetenceDrop);

        // Summaries and paired differences agree with the runs computed by hand; a comparison naming a missing arm is skipped.
        var a = result.Runs.Where(r => r.Arm == "sft→orpo").OrderBy(r => r.Seed).ToList();
        var b = result.Runs.Where(r => r.Arm == "orpo→sft").OrderBy(r => r.Seed).ToList();
        var control = result.Runs.Where(r => r.Arm == "competence-only").OrderBy(r => r.Seed).ToList();
        var difference = Assert.Single(result.Differences);
        Assert.Equal(((a[0].Scores.Competence - b[0].Scores.Competence) + (a[1].Scores.Competence - b[1].Scores.Competence)) / 2, difference.Competence.Mean, 12);
        Assert.Equal(((a[0].CompetenceDrop - b[0].CompetenceDrop) + (a[1].CompetenceDrop - b[1].CompetenceDrop)) / 2, difference.CompetenceDrop.Mean, 12);
        var summary = result.Summaries.Single(s => s.Arm == "sft→orpo");
        Assert.Equal((a[0].Scores.Conformity + a[1].Scores.Conformity) / 2, summary.Conformity.Mean, 12);
        Assert.Equal(((a[0].Scores.Competence - control[0].Scores.Competence) + (a[1].Scores.Competence - control[1].Scores.Competence)) / 2, summary.VersusCompetenceOnly!.Mean, 12);
        Assert.Equal(2, summary.Competence.Count);
        // The trade-off curve is ordered by the conformity share of the batches.
        Assert.Equal(["competence-only", "joint", "joint-equal-updates", "orpo→sft", "sft→orpo", "alternating-1:3"], result.TradeOff.Select(p => p.Arm));
        Assert.Equal(0.75, result.TradeOff[^1].ConformityShare, 12);
        Assert.Contains("'sft→orpo' − 'orpo→sft'", result.Verdict);
        // Any two arms pair up after the run, named in Comparisons or not; an arm without runs is refused by name.
        var alternating = result.Runs.Where(r => r.Arm == "alternating-1:3").OrderBy(r => r.Seed).ToList();
        var adHoc = result.Compare("alternating-1:3", "sft→orpo");
        Assert.Equal(((alternating[0].Scores.Conformity - a[0].Scores.Conformity) + (alternating[1].Scores.Conformity - a[1].Scores.Conformity)) / 2, adHoc.Conformity.Mean, 12);
        Assert.Equal(alternating.Zip(a).Count(p => p.First.Scores.Competence > p.Second.Scores.Competence && p.First.Scores.Conformity >= p.Second.Scores.Conformity), adHoc.FirstWins);
        Assert.Equal(difference, result.Compare("sft→orpo", "orpo→sft"));
        Assert.Equal("first", Assert.Throws<ArgumentException>(() => result.Compare("no-such-arm", "sft→orpo")).ParamName);

        var back = ProtocolJson.Deserialize<AlignmentTaxResult>(ProtocolJson.Serialize(result));
        Assert.Equal(result.Runs.Select(r => r.Scores), back.Runs.Select(r => r.Scores));
    }

    [Fact]
    public void Held_out_probes_are_never_trained_on_and_are_scored_apart()
    {
        var task = new ValueConflictTask(new ValueConflictTaskOptions(Seed: 5));
        var (train, test, trigger, operands) = AlignmentTax.Split(task, heldOutTrigger: 14, heldOutOperandsFrom: 26);
        Assert.DoesNotContain(train.Concat(test), p => p.Left == 14 || p.Right == 14 || p.Left >= 26 || p.Right >= 26);
        Assert.All(trigger, p => Assert.True(p.Left == 14 || p.Right == 14));
        Assert.All(operands, p => Assert.True((p.Left >= 26 || p.Right >= 26) && p.Left != 14 && p.Right != 14));
        // Every request lands in exactly one set: 2·30² of them; the trigger's: 2·(2·30 − 1); the range's without the trigger: 2·(29² − 25²).
        Assert.Equal(1800, train.Count + test.Count + trigger.Count + operands.Count);
        Assert.Equal(1800, train.Concat(test).Concat(trigger).Concat(operands).Distinct().Count());
        Assert.Equal(2 * 59, trigger.Count);
        Assert.Equal(2 * (29 * 29 - 25 * 25), operands.Count);
        Assert.All(trigger, p => Assert.Equal(ValueRule.Refuse, task.Rule(p)));

        var result = new AlignmentTax(Small(Arm("sft→orpo")) with { HeldOutTrigger = 14, HeldOutOperandsFrom = 26, Seeds = [5] }).Run();
        var run = Assert.Single(result.Runs);
        Assert.Equal(2 * 59, run.HeldOut!.Trigger!.Prompts);
        Assert.Equal(2 * (29 * 29 - 25 * 25), run.HeldOut.Operands!.Prompts);
        Assert.Equal([train.Count], result.TrainPrompts);
        Assert.Equal([test.Count], result.TestPrompts);
        Assert.Equal(run.HeldOut.Trigger.RefusalRate, result.Summaries[0].TriggerRefusal!.Mean, 12);
    }

    [Fact]
    public void Pairs_of_the_models_answers_follow_the_rule_and_carry_only_its_answers()
    {
        var task = new ValueConflictTask();
        ArithmeticPrompt add = new(3, '+', 4), refuse = new(7, '+', 1), negative = new(2, '-', 5), skipped = new(1, '+', 1), wrong = new(9, '+', 9);
        var records = AlignmentTax.ModelAnswerRecords(task, [add, refuse, negative, skipped, wrong], ["8", "8", "~4", "#", "17"]);
        Assert.Equal(
        [
            new PreferenceRecord("03+04=", "8", "#"),      // answerable: its (wrong) answer ≻ a refusal
            new PreferenceRecord("07+01=", "#", "8"),      // protected: refusal ≻ its answer
            new PreferenceRecord("02-05=", "~4", "4"),     // negative: caveat + its answer ≻ its bare answer (the caveat it gave is stripped first)
            new PreferenceRecord("09+09=", "17", "#"),     // a refusal ("#") is skipped: it has no answer to fill the pair
        ], records);
        // A too-long answer cannot carry the caveat within the sequence: skipped.
        Assert.Empty(AlignmentTax.ModelAnswerRecords(task, [negative], ["-1234"]));
    }

    [Property(MaxTest = 50)]
    public bool Flipping_swaps_each_pair_or_leaves_it(PositiveInt count, int seed, byte rateByte)
    {
        double rate = rateByte / 512.0; // [0, 0.5)
        var records = Enumerable.Range(0, count.Get % 200).Select(i => new PreferenceRecord($"p{i}", $"c{i}", $"r{i}")).ToList();
        var flipped = AlignmentTax.Flip(records, rate, seed);
        var again = AlignmentTax.Flip(records, rate, seed);
        return flipped.Count == records.Count && flipped.SequenceEqual(again)
               && records.Zip(flipped).All(p => p.First == p.Second || (p.Second.Chosen == p.First.Rejected && p.Second.Rejected == p.First.Chosen && p.Second.Prompt == p.First.Prompt))
               && (rate > 0 || flipped.SequenceEqual(records));
    }

    [Fact]
    public void Flip_rate_is_what_is_asked_within_binomial_noise()
    {
        var records = Enumerable.Range(0, 10_000).Select(i => new PreferenceRecord($"p{i}", "a", "b")).ToList();
        foreach (double rate in new[] { 0.1, 0.2, 0.3 })
        {
            int flips = AlignmentTax.Flip(records, rate, 11).Count(r => r.Chosen == "b");
            double sd = Math.Sqrt(10_000 * rate * (1 - rate));
            Assert.InRange(flips, 10_000 * rate - 4 * sd, 10_000 * rate + 4 * sd);
        }
    }

    [Theory]
    [InlineData(false, 1.0, 40, 40)]
    [InlineData(true, 1.0, 20, 40)]
    [InlineData(true, 0.5, 10, 20)]
    public void A_joint_stage_makes_half_the_updates_unless_asked_for_equal_updates(bool joint, double share, int updates, int batches)
    {
        var stage = new ArmStage(joint ? AlternationSchedules.Joint() : AlternationSchedules.FixedRatio(1, 1), share);
        int stageBatches = (int)(40 * share);
        Assert.Equal((updates, batches), AlignmentTax.StageSize(stage, stageBatches));
        if (joint) Assert.Equal((stageBatches, 2 * stageBatches), AlignmentTax.StageSize(stage with { EqualUpdates = true }, stageBatches));
    }

    [Fact]
    public void Invalid_arms_and_probes_are_refused_naming_the_option()
    {
        AlignmentTaxOptions Valid() => Small(Arm("sft→orpo"));
        var halves = new AlignmentArm("short", [new ArmStage(AlternationSchedules.CompetenceOnly(), 0.5)]);
        Assert.Contains("sum to 1", Assert.Throws<ArgumentOutOfRangeException>(() => new AlignmentTax(Valid() with { Arms = [halves] })).Message);
        var noisy = Arm("sft→orpo") with { Pairs = new PairSource(FlipRate: 0.5) };
        Assert.Contains("FlipRate", Assert.Throws<ArgumentOutOfRangeException>(() => new AlignmentTax(Valid() with { Arms = [noisy] })).Message);
        var badLoss = new AlignmentArm("x", [new ArmStage(AlternationSchedules.ConformityOnly(), 1.0, "nope")]);
        Assert.Equal("Arms", Assert.Throws<ArgumentOutOfRangeException>(() => new AlignmentTax(Valid() with { Arms = [badLoss] })).ParamName);
        Assert.Equal("HeldOutTrigger", Assert.Throws<ArgumentOutOfRangeException>(() => new AlignmentTax(Valid() with { HeldOutTrigger = 30 })).ParamName);
        Assert.Equal("WarmupShare", Assert.Throws<ArgumentOutOfRangeException>(() => new AlignmentTax(Valid() with { WarmupShare = 1 })).ParamName);
        Assert.Equal("Arms", Assert.Throws<ArgumentOutOfRangeException>(() => new AlignmentTax(Valid() with { Arms = [Arm("sft→orpo"), Arm("sft→orpo")] })).ParamName);
    }

    [Fact]
    public void Default_arms_and_their_options_round_trip_through_json()
    {
        var options = new AlignmentTaxOptions { Arms = [.. AlignmentArm.Defaults(), Arm("sft→dpo") with { Name = "flip", Pairs = new PairSource(PairAnswers.Model, 0.2) }] };
        var read = (AlignmentTaxOptions)ProtocolCatalog.Find(AlignmentTax.ProtocolName).ReadOptions(ProtocolJson.Serialize(options));
        Assert.Equal(ProtocolJson.Serialize(options), ProtocolJson.Serialize(read));
        Assert.Equal(new PairSource(PairAnswers.Model, 0.2), read.Arms[^1].Pairs);
        Assert.Equal("sigmoid", read.Arms.Single(a => a.Name == "sft→dpo").Stages[1].ConformityLoss);
        Assert.True(read.Arms.Single(a => a.Name == "joint-equal-updates").Stages[0].EqualUpdates);
    }
}

public class AlignmentTaxWeakJudgeTests
{
    [Fact]
    public void A_flipped_arm_reports_its_conformity_pgr_against_the_same_stages_on_clean_pairs()
    {
        var arms = AlignmentArm.Defaults().Where(a => a.Name is "sft→orpo" or "sft→orpo/flip-20%").ToArray();
        var options = new AlignmentTaxOptions
        {
            Seeds = [1, 2], Arms = arms, ModelDim = 16, Layers = 1, Heads = 2, PretrainSteps = 30, BatchBudget = 16, BatchSize = 16, CheckpointsPerStage = 0, Device = "cpu",
        };
        var result = new AlignmentTax(options).Run();
        var weak = result.Summaries.Single(s => s.Arm == "sft→orpo/flip-20%").WeakJudge!;
        Assert.Null(result.Summaries.Single(s => s.Arm == "sft→orpo").WeakJudge);
        Assert.Equal("sft→orpo", weak.CeilingArm);
        Assert.Equal(0.8, weak.JudgeAccuracy, 12);
        double Accuracy(string arm, int seed) => result.Runs.Single(r => r.Arm == arm && r.Seed == seed).PairAccuracy;
        var perSeed = new[] { 1, 2 }.Select(s => (Accuracy("sft→orpo/flip-20%", s) - 0.8) / (Accuracy("sft→orpo", s) - 0.8)).ToList();
        Assert.Equal(perSeed.Average(), weak.Pgr.Mean, 9);
        Assert.All(result.Runs, r => Assert.InRange(r.PairAccuracy, 0, 1));
        // Pair accuracy counts the held-out pairs whose chosen response gets the higher log-probability: at most one value per pair.
        // (each seed's held-out pairs are its test prompts, whose number varies with the seed's split).
        Assert.All(result.Runs, r => Assert.Equal(Math.Round(r.PairAccuracy * r.Scores.Prompts), r.PairAccuracy * r.Scores.Prompts, 6));
    }
}

public class AlignmentTaxLmJudgeTests
{
    [Fact]
    public void An_lm_judge_labels_the_pairs_by_its_own_per_token_log_probs_and_its_measured_accuracy_enters_the_pgr()
    {
        var arms = AlignmentArm.WeakJudges().Where(a => a.Name is "sft→orpo" or "sft→orpo/lm-judge-d16").ToArray();
        arms[1] = arms[1] with { Pairs = new PairSource(Judge: new LmJudge(ModelDim: 16, Demonstrations: 64, Steps: 40)) };
        var options = new AlignmentTaxOptions
        {
            Seeds = [2], Arms = arms, ModelDim = 16, Layers = 1, Heads = 2, PretrainSteps = 20, BatchBudget = 8, BatchSize = 16, CheckpointsPerStage = 0, Device = "cpu",
        };
        var result = new AlignmentTax(options).Run();
        var judged = result.Runs.Single(r => r.Arm == "sft→orpo/lm-judge-d16");
        var ceiling = result.Runs.Single(r => r.Arm == "sft→orpo");
        Assert.True(double.IsNaN(ceiling.JudgeAccuracy));
        Assert.InRange(judged.JudgeAccuracy, 0, 1);
        var weak = result.Summaries.Single(s => s.Arm == judged.Arm).WeakJudge!;
        Assert.Equal("sft→orpo", weak.CeilingArm);
        Assert.Equal(judged.JudgeAccuracy, weak.JudgeAccuracy, 12);
        Assert.Equal((judged.PairAccuracy - judged.JudgeAccuracy) / (ceiling.PairAccuracy - judged.JudgeAccuracy), weak.Pgr.Mean, 9);
    }

    [Fact]
    public void Judging_orders_each_pair_by_the_higher_mean_token_log_prob_and_counts_agreement()
    {
        // A judge trained to answer "#" to everything prefers the refusal in every pair that has one.
        var task = new ValueConflictTask();
        var prompts = task.TrainPrompts.Take(64).ToList();
        using var judge = new Superalign.Students.TinyCausalLm(new Superalign.Students.TinyCausalLmOptions(task.Tokenizer.VocabularySize, task.SequenceLength, 16, 1, 2, Seed: 1), TorchSharp.torch.CPU);
        var refusals = task.Tokenizer.ToSupervisedDataset(prompts.Select(p => (p.Text, ValueConflictTask.RefusalMarker)).ToList(), task.SequenceLength);
        using (var optimizer = new AlternatingOptimizer(judge, Superalign.Objectives.Competence.CompetenceObjectives.Create("nll"), null,
                   new AlternatingOptimizerOptions { TotalSteps = 150, Schedule = AlternationSchedules.CompetenceOnly(), LearningRate = 5e-3, LogEvery = 0 }))
            optimizer.Train(refusals.Batches(32, seed: 3), null);
        var records = new List<PreferenceRecord>
        {
            new("03+04=", "7", "#"),   // the rule says answer; the judge prefers the refusal: swapped
            new("07+01=", "#", "8"),   // the rule says refuse; the judge agrees: kept
        };
        var (judged, agreed) = AlignmentTax.JudgeRecords(task, judge, records);
        Assert.Equal(new PreferenceRecord("03+04=", "#", "7"), judged[0]);
        Assert.Equal(records[1], judged[1]);
        Assert.Equal(0.5, agreed, 12);
    }

    [Fact]
    public void Options_without_a_judge_serialize_as_before_judges_existed()
    {
        // The fingerprint of stored runs hashes the options' JSON: a null judge must not appear in it.
        string json = ProtocolJson.Serialize(new AlignmentTaxOptions());
        Assert.DoesNotContain("judge", json, StringComparison.OrdinalIgnoreCase);
        var withJudge = new AlignmentTaxOptions { Arms = AlignmentArm.WeakJudges() };
        var read = (AlignmentTaxOptions)ProtocolCatalog.Find(AlignmentTax.ProtocolName).ReadOptions(ProtocolJson.Serialize(withJudge));
        Assert.Equal(new LmJudge(ModelDim: 16), read.Arms.Single(a => a.Name == "sft→orpo/lm-judge-d16").Pairs!.Judge);
    }
}
