using Superalign.Checkpoints;
using Superalign.Data;
using Superalign.Objectives.Competence;
using Superalign.Objectives.Conformity;
using Superalign.Optimization;
using Superalign.Students;
using Superalign.TestHost;
using Xunit;
using static Superalign.Tests.Checkpoints.CheckpointTestSupport;
using static TorchSharp.torch;

namespace Superalign.Tests.Checkpoints;

/// <summary>
/// Resuming in process: a run saved after k updates, loaded into freshly built objects and trained to the end, ends in
/// the same state, bit for bit, as the uninterrupted run (the kill tests do the same across processes).
/// </summary>
public sealed class TrainingResumeTests
{
    public static TheoryData<string> Scenarios() => new(TrainingScenario.Names);

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void A_run_resumed_from_a_checkpoint_ends_bitwise_equal_to_an_uninterrupted_one(string name)
    {
        string dir = TempDir();
        string expected = Path.Combine(dir, "uninterrupted.ckpt");
        TrainingScenario.SaveAfter(name, long.MaxValue, expected);

        foreach (long stop in new long[] { 1, 7, 13 })
        {
            string middle = Path.Combine(dir, $"after-{stop}.ckpt");
            using (var first = TrainingScenario.Create(name))
            {
                first.StepTo(stop);
                first.Save(middle);
                // Whatever happens to the objects afterwards does not matter: the file holds the run.
                first.Optimizer.Step(first.Competence, first.Conformity);
            }
            string actual = Path.Combine(dir, $"resumed-{stop}.ckpt");
            using (var second = TrainingScenario.Create(name))
            {
                second.Load(middle);
                Assert.Equal(stop, second.Optimizer.StepsDone);
                var reports = second.Train();
                Assert.Equal(second.TotalSteps - stop, reports.Count);
                second.Save(actual);
            }
            AssertSameState(expected, actual, IsTiming);
        }
    }

    [Fact]
    public void Train_with_a_directory_resumes_keeps_the_newest_and_falls_back_past_a_damaged_one()
    {
        string dir = TempDir();
        string ckpts = Path.Combine(dir, "run");
        string expected = Path.Combine(dir, "expected.ckpt");
        TrainingScenario.SaveAfter("plain", long.MaxValue, expected);
        var settings = new TrainingCheckpoints(ckpts) { Every = 6, KeepLast = 2 };
        using (var first = TrainingScenario.Create("plain"))
        {
            var reports = first.Train(settings);
            Assert.Equal(first.TotalSteps, reports.Count);
        }
        Assert.Equal([40L, 36L], TrainingCheckpoints.List(ckpts).Select(c => c.Steps));

        // Damage the newest: the run falls back to the one before and redoes the last 4 updates.
        string newest = TrainingCheckpoints.List(ckpts)[0].Path;
        var bytes = File.ReadAllBytes(newest);
        bytes[^40] ^= 1;
        File.WriteAllBytes(newest, bytes);
        string actual = Path.Combine(dir, "actual.ckpt");
        using (var second = TrainingScenario.Create("plain"))
        {
            var reports = second.Train(settings);
            Assert.Equal(4, reports.Count);
            Assert.Equal(36, reports[0].Step);
            second.Save(actual);
        }
        AssertSameState(expected, actual, IsTiming);
        Assert.All(Directory.GetFiles(ckpts), f => Assert.DoesNotContain(".tmp", f));

        // A finished run resumed again runs nothing.
        using var third = TrainingScenario.Create("plain");
        Assert.Empty(third.Train(settings));
        Assert.Equal(third.TotalSteps, third.Optimizer.StepsDone);
    }

    [Fact]
    public void A_part_that_cannot_be_checkpointed_is_refused_before_any_update()
    {
        using var scenario = TrainingScenario.Create("plain");
        var before = Snapshot((TorchStudent)scenario.Student);
        var opaque = BatchSource.From(() => scenario.Conformity!.Next());
        var e = Assert.Throws<NotSupportedException>(() =>
            scenario.Optimizer.Train(scenario.Competence, opaque, new TrainingCheckpoints(TempDir())));
        Assert.Contains("conformity batch source", e.Message);
        Assert.Equal(0, scenario.Optimizer.StepsDone);
        Assert.Equal(before, Snapshot((TorchStudent)scenario.Student));

        Assert.Throws<ArgumentException>(() => scenario.Optimizer.SaveCheckpoint(Path.Combine(TempDir(), "x.ckpt"), scenario.Competence, scenario.Conformity,
            new Dictionary<string, ICheckpointable> { ["student"] = TorchRandomState.Cpu }));
        Assert.Throws<ArgumentOutOfRangeException>(() => scenario.Optimizer.Train(scenario.Competence, scenario.Conformity, new TrainingCheckpoints(TempDir()) { Every = 0 }));
    }

    [Fact]
    public void A_checkpoint_that_does_not_fit_changes_nothing_in_any_part()
    {
        string dir = TempDir();
        string path = Path.Combine(dir, "plain.ckpt");
        TrainingScenario.SaveAfter("plain", 5, path);
        // Same student and optimizer, but the competence source draws batches of another size: its check fails last,
        // after the student's, the moments' and the step count's checks passed; none of them may be applied.
        using var target = TrainingScenario.Create("plain");
        target.Optimizer.Step(target.Competence, target.Conformity);
        var competence = SupervisedDataset.ForClassification(randn(160, 12), zeros(160, dtype: ScalarType.Int64)).Batches(25, seed: 11);
        string before = Path.Combine(dir, "before.ckpt");
        target.Optimizer.SaveCheckpoint(before, target.Competence, target.Conformity);
        var e = Assert.Throws<CheckpointException>(() => target.Optimizer.LoadCheckpoint(path, competence, target.Conformity));
        Assert.Contains("batch-size", e.Message);
        string after = Path.Combine(dir, "after.ckpt");
        target.Optimizer.SaveCheckpoint(after, target.Competence, target.Conformity);
        AssertSameState(before, after);
        Assert.Equal(1, target.Optimizer.StepsDone);

        // Other options: TotalSteps differs.
        using var student = new MlpClassifier(new MlpClassifierOptions(12, 5, HiddenWidth: 24, Depth: 2, Seed: 5), CPU);
        using var other = new AlternatingOptimizer(student, CompetenceObjectives.Create("ce"), ConformityObjectives.Create("sigmoid", beta: 0.5),
            new AlternatingOptimizerOptions { TotalSteps = 41, LearningRate = 3e-3 });
        var total = Assert.Throws<CheckpointException>(() => other.LoadCheckpoint(path, target.Competence, target.Conformity));
        Assert.Contains("TotalSteps = 40", total.Message);
    }
}
