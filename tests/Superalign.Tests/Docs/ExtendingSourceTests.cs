using Superalign.Checkpoints;
using Superalign.Data;
using Superalign.Optimization;
using Superalign.Tests.Checkpoints;
using Superalign.Tests.Infrastructure;
using Xunit;

namespace Superalign.Tests.Docs;

/// <summary>The resumable source of docs/extending.md resumes: a run through a checkpoint equals an uninterrupted one.</summary>
public sealed class ExtendingSourceTests
{
    private static (LinearTestStudent Student, AlternatingOptimizer Optimizer, RandomRows Source) Run()
    {
        var (x, y) = ToyData.Classification(40, 4, 3, seed: 1);
        var student = new LinearTestStudent(4, 3, seed: 2);
        var optimizer = new AlternatingOptimizer(student, new TestCrossEntropy(), null,
            new AlternatingOptimizerOptions { TotalSteps = 12, Schedule = AlternationSchedules.CompetenceOnly(), LogEvery = 0 });
        return (student, optimizer, new RandomRows(SupervisedDataset.ForClassification(x, y), 5, seed: 3));
    }

    [Fact]
    public void RandomRows_resumes_where_it_was()
    {
        string dir = CheckpointTestSupport.TempDir();
        var (s1, o1, r1) = Run();
        using (s1)
        using (o1)
        {
            o1.Train(r1, null);
            o1.SaveCheckpoint(Path.Combine(dir, "whole.ckpt"), r1, null);
        }
        var (s2, o2, r2) = Run();
        using (s2)
        using (o2)
        {
            o2.Train(r2, null, new TrainingCheckpoints(Path.Combine(dir, "run")) { Every = 5 });
        }
        // Start over from the checkpoint after 10 updates: the source replays its draws.
        File.Delete(Path.Combine(dir, "run", TrainingCheckpoints.FileName(12)));
        var (s3, o3, r3) = Run();
        using (s3)
        using (o3)
        {
            Assert.Equal(2, o3.Train(r3, null, new TrainingCheckpoints(Path.Combine(dir, "run")) { Every = 5 }).Count);
            o3.SaveCheckpoint(Path.Combine(dir, "resumed.ckpt"), r3, null);
        }
        // The global generator is not this test's subject (other tests in the process draw from it).
        CheckpointTestSupport.AssertSameState(Path.Combine(dir, "whole.ckpt"), Path.Combine(dir, "resumed.ckpt"), k => k.StartsWith("rng/", StringComparison.Ordinal));

        var bad = Assert.Throws<CheckpointException>(() => new RandomRows(SupervisedDataset.ForClassification(ToyData.Classification(40, 4, 3, 1).X, ToyData.Classification(40, 4, 3, 1).Y), 5, seed: 4)
            .PrepareRestore(Checkpoint.Read(Path.Combine(dir, "resumed.ckpt")).Section("competence-data")));
        Assert.Contains("another seed", bad.Message);
    }
}
