using Superalign.Optimization;
using Superalign.Experiments.Protocols;
using Xunit;

namespace Superalign.Tests.Experiments.Protocols;

public class CoOptimizationComparisonTests
{
    private static CoOptimizationOptions Small(params ScheduleCandidate[] schedules) => new()
    {
        Seeds = [3],
        Schedules = schedules,
        ModelDim = 32,
        Layers = 1,
        Heads = 2,
        PretrainSteps = 60,
        BatchBudget = 40,
        Checkpoints = 1,
    };

    [Fact]
    public void Every_schedule_gets_the_same_batch_budget_and_a_trajectory()
    {
        var all = ScheduleCandidate.Defaults();
        var result = new CoOptimizationComparison(Small(all.Where(s => s.Name is "competence-only" or "joint" or "alternating" or "sequential").ToArray())).Run();
        var byName = result.Runs.ToDictionary(r => r.Schedule);
        Assert.Equal((40, 40, 0), (byName["competence-only"].Updates, byName["competence-only"].CompetenceBatches, byName["competence-only"].ConformityBatches));
        Assert.Equal((20, 20, 20), (byName["joint"].Updates, byName["joint"].CompetenceBatches, byName["joint"].ConformityBatches));
        Assert.Equal((40, 20, 20), (byName["alternating"].Updates, byName["alternating"].CompetenceBatches, byName["alternating"].ConformityBatches));
        Assert.Equal((40, 20, 20), (byName["sequential"].Updates, byName["sequential"].CompetenceBatches, byName["sequential"].ConformityBatches));
        foreach (var run in result.Runs)
        {
            // Base, one checkpoint, the end; the end point is the run's final score.
            Assert.Equal(3, run.Trajectory.Count);
            Assert.Equal(result.Base[0].Competence, run.Trajectory[0].Competence);
            Assert.Equal(run.Scores.Conformity, run.Trajectory[^1].Conformity);
            Assert.Equal(40, run.Trajectory[^1].Batches);
        }
        Assert.Equal(450, result.TestPrompts);
        Assert.NotNull(result.AlternatingVersusSequential);
        Assert.Equal(byName["alternating"].Scores.Competence - byName["sequential"].Scores.Competence,
            result.AlternatingVersusSequential!.CompetenceDifference.Mean, 12);
        // The Pareto flags agree with a direct check of the means.
        foreach (var s in result.Summaries)
        {
            bool dominated = result.Summaries.Any(o => o != s && o.Competence.Mean >= s.Competence.Mean && o.Conformity.Mean >= s.Conformity.Mean
                                                       && (o.Competence.Mean > s.Competence.Mean || o.Conformity.Mean > s.Conformity.Mean));
            Assert.Equal(!dominated, s.OnParetoFront);
        }
        Assert.Contains("Alternating − sequential", result.Verdict);
        // Pareto tracking: one trajectory point per evaluation, finals are the runs' end scores.
        Assert.Equal(result.Runs.Sum(r => r.Trajectory.Count), result.Pareto.Trajectories.Count);
        Assert.Equal(result.Runs.Select(r => (r.Scores.Competence, r.Scores.Conformity)), result.Pareto.Finals.Select(p => (p.Competence, p.Conformity)));
        Assert.Equal(byName["joint"].Scores.Competence * byName["joint"].Scores.Conformity, result.HypervolumeBySchedule["joint"].Mean, 12);
        Assert.True(result.Pareto.HypervolumeOfAll >= result.Pareto.Hypervolume);
        var json = ProtocolJson.Serialize(result);
        var back = ProtocolJson.Deserialize<CoOptimizationResult>(json);
        Assert.Equal(result.Runs.Select(r => r.Scores), back.Runs.Select(r => r.Scores));
    }

    [Fact]
    public void Conformity_training_raises_held_out_conformity_over_the_base()
    {
        var options = Small(new ScheduleCandidate("conformity-only", AlternationSchedules.ConformityOnly())) with
        {
            // 300 batches: with 200 the seed-3 run rose 9.5 points (58.7% -> 68.2%), at the edge of the bound; 300 gives 82.0%.
            ModelDim = 64, Layers = 2, Heads = 4, PretrainSteps = 100, BatchBudget = 300, Checkpoints = 0,
        };
        var result = new CoOptimizationComparison(options).Run();
        var run = Assert.Single(result.Runs);
        Assert.True(run.Scores.Conformity > result.Base[0].Conformity + 0.1,
            $"conformity {result.Base[0].Conformity:P1} -> {run.Scores.Conformity:P1}");
        Assert.True(run.Scores.RefusalRate > 0.3, $"refuses {run.Scores.RefusalRate:P1} of protected requests");
    }

    [Fact]
    public void Conflict_aware_candidates_set_the_optimizer_conflict_mode()
    {
        var candidates = ScheduleCandidate.ConflictAware().ToDictionary(c => c.Name);
        Assert.Equal(ConflictMode.ProjectConflicting, candidates["joint-pcgrad"].ConflictMode);
        Assert.Equal(ConflictMode.MinNorm, candidates["joint-mgda"].ConflictMode);
        Assert.Equal(ConflictMode.None, candidates["joint"].ConflictMode);
        Assert.Equal(TrainingPhase.Joint, candidates["joint-mgda"].Schedule.Plan(0, 10).Phase);
        Assert.Equal(TrainingPhase.Competence, candidates["annealed-ratio"].Schedule.Plan(0, 100).Phase);
        Assert.Equal(new[] { "joint 1:0.5", "joint 1:1", "joint 0.5:1" }, candidates["search-weights"].Search!.Candidates.Select(c => c.Name));
        Assert.Equal(DirectionChoice.ParetoFirst, candidates["search-phase"].Search!.Choice);
        Assert.Equal(DirectionChoice.Scalarized, candidates["search-phase-scalarized"].Search!.Choice);
        Assert.Equal(5, candidates.Values.Count(c => c.Search is null));
    }

    [Fact]
    public void Search_schedules_score_on_held_out_probe_prompts_within_the_batch_budget()
    {
        var searching = ScheduleCandidate.ConflictAware().Where(s => s.Search is not null).ToList();
        Assert.Equal(new[] { "search-phase", "search-phase-scalarized", "search-weights" }, searching.Select(s => s.Name));
        searching.RemoveAt(1);
        var options = Small([.. searching, new ScheduleCandidate("alternating", AlternationSchedules.FixedRatio(1, 1))]) with { ProbePrompts = 64 };
        var result = new CoOptimizationComparison(options).Run();
        // The probe prompts are taken out of training for every schedule (1,350 training prompts in the default task).
        Assert.Equal(1350 - 64, result.TrainPrompts);
        var byName = result.Runs.ToDictionary(r => r.Schedule);
        // Phase search every 4 steps: 32 updates, 8 of them searches that train on two batches: 32 + 8 = 40 batches.
        var phase = byName["search-phase"];
        Assert.Equal(32, phase.Updates);
        Assert.Equal(40, phase.CompetenceBatches + phase.ConformityBatches);
        Assert.Equal(8, phase.Search!.Searches);
        Assert.Equal(8, phase.Search.Wins.Values.Sum());
        Assert.Equal(new[] { "competence", "conformity" }, phase.Search.Wins.Keys);
        // Weight search: every update is joint, so 20 updates of two batches, searching at 0, 4, ..., 16.
        var weights = byName["search-weights"];
        Assert.Equal((20, 20, 20), (weights.Updates, weights.CompetenceBatches, weights.ConformityBatches));
        Assert.Equal(5, weights.Search!.Searches);
        Assert.Null(byName["alternating"].Search);
        // Paired differences against alternating, one per other schedule (one seed: the difference itself).
        Assert.Equal(new[] { "search-phase", "search-weights" }, result.VersusAlternating!.Select(p => p.First));
        Assert.Equal(phase.Scores.Conformity - byName["alternating"].Scores.Conformity, result.VersusAlternating![0].ConformityDifference.Mean, 12);
        foreach (var run in result.Runs)
        {
            Assert.Equal(3, run.Trajectory.Count);
            Assert.Equal(40, run.Trajectory[^1].Batches);
        }
        var summaries = result.Summaries.ToDictionary(s => s.Schedule);
        Assert.Equal(8, summaries["search-phase"].Search!.Searches);
        Assert.Equal(phase.Search.Wins["competence"], summaries["search-phase"].Search!.Wins["competence"]);
        Assert.Equal(phase.Search.SearchStepCostRatio, summaries["search-phase"].Search!.SearchStepCostRatio, 12);
        Assert.Null(summaries["alternating"].Search);
        Assert.Equal(phase.Seconds, summaries["search-phase"].MeanSeconds, 12);
        Assert.Contains("direction search every 4 steps over competence, conformity", summaries["search-phase"].Description);
        var back = ProtocolJson.Deserialize<CoOptimizationResult>(ProtocolJson.Serialize(result));
        Assert.Equal(phase.Search.Wins, back.Runs.Single(r => r.Schedule == "search-phase").Search!.Wins);
    }

    [Fact]
    public void A_search_schedule_needs_probe_prompts_and_valid_search_options()
    {
        var search = ScheduleCandidate.ConflictAware().Single(s => s.Name == "search-phase");
        var missing = Assert.Throws<ArgumentOutOfRangeException>(() => new CoOptimizationComparison(Small(search)));
        Assert.Equal("ProbePrompts", missing.ParamName);
        Assert.Contains("search-phase", missing.Message);
        var bad = search with { Search = search.Search! with { Every = 0 } };
        Assert.Equal("Every", Assert.Throws<ArgumentOutOfRangeException>(() => new CoOptimizationComparison(Small(bad) with { ProbePrompts = 8 })).ParamName);
        var tooMany = new CoOptimizationComparison(Small(search) with { ProbePrompts = 1350 });
        Assert.Equal("ProbePrompts", Assert.Throws<ArgumentOutOfRangeException>(() => tooMany.Run()).ParamName);
    }

    [Theory]
    [InlineData(" ORPO ", "nll")]
    [InlineData("aot_pair", " NLL")]
    [InlineData("sigmoid", "nll")]
    public void Loss_names_are_accepted_exactly_as_the_objective_factories_accept_them(string conformity, string competence)
    {
        // The factories trim, ignore case and map TRL's aliases; the protocols' checks must not be stricter.
        Assert.NotNull(Superalign.Objectives.Conformity.ConformityObjectives.Create(conformity));
        Assert.NotNull(Superalign.Objectives.Competence.CompetenceObjectives.Create(competence));
        _ = new CoOptimizationComparison(new CoOptimizationOptions { ConformityLoss = conformity, CompetenceLoss = competence });
        _ = new SelfEnhancement(new SelfEnhancementOptions { ConformityLoss = conformity, CompetenceLoss = competence });
    }

    [Theory]
    [InlineData("Seeds")]
    [InlineData("Schedules")]
    [InlineData("BatchBudget")]
    [InlineData("ConformityLoss")]
    [InlineData("ModelDim")]
    public void Options_are_validated_by_name(string option)
    {
        var bad = option switch
        {
            "Seeds" => new CoOptimizationOptions { Seeds = [1, 1] },
            "Schedules" => new CoOptimizationOptions { Schedules = [] },
            "BatchBudget" => new CoOptimizationOptions { BatchBudget = 1 },
            "ConformityLoss" => new CoOptimizationOptions { ConformityLoss = "dpo2" },
            _ => new CoOptimizationOptions { ModelDim = 30, Heads = 4 },
        };
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new CoOptimizationComparison(bad));
        Assert.Equal(option, error.ParamName);
        Assert.Contains(option, error.Message);
    }
}
