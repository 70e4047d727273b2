using Superalign.Optimization;
using Superalign.Protocols;
using Xunit;

namespace Superalign.Tests.Protocols;

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
            ModelDim = 64, Layers = 2, Heads = 4, PretrainSteps = 100, BatchBudget = 200, Checkpoints = 0,
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
        var plain = new AlternatingOptimizerOptions();
        Assert.Equal(ConflictMode.ProjectConflicting, candidates["joint-pcgrad"].Configure!(plain).ConflictMode);
        Assert.Equal(ConflictMode.MinNorm, candidates["joint-mgda"].Configure!(plain).ConflictMode);
        Assert.Null(candidates["joint"].Configure);
        Assert.Equal(TrainingPhase.Joint, candidates["joint-mgda"].Schedule.Plan(0, 10).Phase);
        Assert.Equal(TrainingPhase.Competence, candidates["annealed-ratio"].Schedule.Plan(0, 100).Phase);
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
