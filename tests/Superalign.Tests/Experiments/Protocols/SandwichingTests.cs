using System.Diagnostics;
using MathNet.Numerics.Distributions;
using Superalign.Experiments.Protocols;
using Superalign.Experiments.Tasks;
using Superalign.Tests.Infrastructure;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Experiments.Protocols;

/// <summary>Collects progress reports synchronously (System.Progress posts them to the thread pool).</summary>
public sealed class ProgressLog : IProgress<ProtocolProgress>
{
    public List<ProtocolProgress> Reports { get; } = [];
    public void Report(ProtocolProgress value) => Reports.Add(value);
}

/// <summary>One small sandwiching run (2 seeds), shared by the tests that read its result.</summary>
public sealed class SmallSandwichingRun
{
    public static SandwichingOptions Options => new()
    {
        Seeds = [1, 2],
        TrainSize = 2000,
        TestSize = 500,
        JudgeSteps = 800,
        ExpertSteps = 400,
        Device = "cpu",
    };

    public SmallSandwichingRun()
    {
        var watch = Stopwatch.StartNew();
        Result = SandwichingTestKit.SingleThreaded(() => new Sandwiching(Options).Run(Progress));
        Elapsed = watch.Elapsed;
    }

    public SandwichingResult Result { get; }
    public ProgressLog Progress { get; } = new();
    public TimeSpan Elapsed { get; }
}

internal static class SandwichingTestKit
{
    /// <summary>Runs with one intra-op thread (tiny models run far faster so on a shared CPU), restoring the count.</summary>
    public static T SingleThreaded<T>(Func<T> run)
    {
        int threads = get_num_threads();
        set_num_threads(1);
        try
        {
            return run();
        }
        finally
        {
            set_num_threads(threads);
        }
    }

    public static SandwichingOptions Tiny => new()
    {
        Seeds = [7],
        TrainSize = 300,
        TestSize = 100,
        JudgeSteps = 60,
        ExpertSteps = 40,
        BootstrapResamples = 200,
        Device = "cpu",
    };
}

public sealed class SandwichingTests(SmallSandwichingRun run) : IClassFixture<SmallSandwichingRun>
{
    private SandwichingResult Result => run.Result;

    [Fact]
    public void Debate_raises_the_weak_judges_accuracy_over_no_help()
    {
        // Measured at these settings: about +45 points, paired interval about ±3 points.
        var gain = Result.DebateMinusNoHelp;
        Assert.True(gain.Lower > 0.25, $"debate − no help: {gain.Estimate:P1} [{gain.Lower:P1}, {gain.Upper:P1}]");
        Assert.Equal(2000, gain.Resamples);
        Assert.Equal(0.95, gain.Level);
        Assert.All(Result.SeedResults, r => Assert.True(r.DebateAccuracy > r.NoHelpAccuracy + 0.2, $"seed {r.Seed}: debate {r.DebateAccuracy:P1}, no help {r.NoHelpAccuracy:P1}"));
        Assert.True(Result.Debate.Mean > 0.85, $"debate {Result.Debate}");
    }

    [Fact]
    public void The_expert_beats_the_unaided_judge_which_is_weak_but_better_than_chance()
    {
        Assert.All(Result.SeedResults, r =>
        {
            Assert.True(r.ExpertAccuracy > 0.9, $"seed {r.Seed}: expert {r.ExpertAccuracy:P1}");
            Assert.True(r.ExpertAccuracy > r.NoHelpAccuracy + 0.3, $"seed {r.Seed}: expert {r.ExpertAccuracy:P1}, no help {r.NoHelpAccuracy:P1}");
            Assert.InRange(r.NoHelpAccuracy, 0.35, 0.7);   // chance is 0.25
        });
    }

    [Fact]
    public void A_dishonest_consultant_misleads_the_judge_and_debate_beats_consultancy()
    {
        Assert.All(Result.SeedResults, r =>
        {
            Assert.True(r.HonestConsultantAccuracy > 0.9, $"seed {r.Seed}: honest consultant {r.HonestConsultantAccuracy:P1}");
            Assert.True(r.DishonestConsultantAccuracy < 0.3, $"seed {r.Seed}: dishonest consultant {r.DishonestConsultantAccuracy:P1}");
        });
        Assert.True(Result.DebateMinusConsultancy.Lower > 0, $"debate − consultancy {Result.DebateMinusConsultancy.Estimate:P1}");
    }

    [Fact]
    public void Summaries_are_t_intervals_over_the_seed_rows_and_the_sizes_are_reported()
    {
        Assert.Equal(new[] { 1, 2 }, Result.SeedResults.Select(r => r.Seed));
        Assert.Equal(new[] { 1, 2 }, Result.Seeds);
        Assert.Equal(2000, Result.TrainExamples);
        Assert.Equal(500, Result.TestExamples);
        Assert.Equal(1000, Result.PooledTestExamples);
        var debate = Result.SeedResults.Select(r => r.DebateAccuracy).ToArray();
        double mean = debate.Average(), sd = Math.Abs(debate[0] - debate[1]) / Math.Sqrt(2);
        double half = StudentT.InvCDF(0, 1, 1, 0.975) * sd / Math.Sqrt(2);   // t(1) quantile ≈ 12.706
        TorchAssert.Close(mean, Result.Debate.Mean, absTol: 1e-12, what: "mean");
        TorchAssert.Close(mean - half, Result.Debate.Lower, absTol: 1e-9, what: "lower");
        TorchAssert.Close(mean + half, Result.Debate.Upper, absTol: 1e-9, what: "upper");
        Assert.Equal(2, Result.Expert.Count);
        // Equal test sets per seed: the pooled difference is the mean of the per-seed differences.
        TorchAssert.Close(Result.SeedResults.Average(r => r.DebateAccuracy - r.NoHelpAccuracy), Result.DebateMinusNoHelp.Estimate, absTol: 1e-12, what: "pooled gain");
        Assert.Equal(new[] { "judge, no help", "judge + consultant", "judge + debate", "expert (all features)" }, Result.Conditions().Select(c => c.Condition));
    }

    [Fact]
    public void Progress_is_reported_after_every_stage_and_the_run_takes_seconds()
    {
        var reports = run.Progress.Reports;
        Assert.Equal(6, reports.Count);
        Assert.Equal(Enumerable.Range(1, 6), reports.Select(p => p.Done));
        Assert.All(reports, p => Assert.Equal(("sandwiching", 6), (p.Protocol, p.Total)));
        Assert.Equal("seed 2: evaluated", reports[^1].Stage);
        Assert.True(run.Elapsed < TimeSpan.FromSeconds(90), $"took {run.Elapsed.TotalSeconds:F1} s");
        Assert.InRange(Result.WallSeconds, 0.01, run.Elapsed.TotalSeconds);
    }

    [Fact]
    public void The_result_round_trips_through_json()
    {
        string path = Path.Combine(Path.GetTempPath(), $"sandwiching-{Guid.NewGuid():N}", "result.json");
        try
        {
            ProtocolJson.Write(Result, path);
            string json = File.ReadAllText(path);
            var back = ProtocolJson.Deserialize<SandwichingResult>(json);

            Assert.Equal(json, ProtocolJson.Serialize(back));
            Assert.Equal(Result.SeedResults, back.SeedResults);
            Assert.Equal(Result.Debate, back.Debate);
            Assert.Equal(Result.DebateMinusNoHelp, back.DebateMinusNoHelp);
            Assert.Equal(Result.Options.Task, back.Options.Task);
            Assert.Equal(Result.Options.Seeds, back.Options.Seeds);
            Assert.Equal(Result.Options with { Seeds = back.Options.Seeds }, back.Options);
            Assert.Contains("\"debateMinusNoHelp\"", json);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }

    [Fact]
    public void The_same_options_give_the_same_result_and_one_seed_gives_nan_intervals_that_survive_json()
    {
        var first = SandwichingTestKit.SingleThreaded(() => new Sandwiching(SandwichingTestKit.Tiny).Run());
        var second = SandwichingTestKit.SingleThreaded(() => new Sandwiching(SandwichingTestKit.Tiny).Run());

        Assert.Equal(first.SeedResults.Select(r => r with { WallSeconds = 0 }), second.SeedResults.Select(r => r with { WallSeconds = 0 }));
        Assert.Equal(first.DebateMinusNoHelp, second.DebateMinusNoHelp);
        Assert.True(double.IsNaN(first.Debate.Lower), "one seed: no interval over seeds");
        var back = ProtocolJson.Deserialize<SandwichingResult>(ProtocolJson.Serialize(first));
        Assert.True(double.IsNaN(back.Debate.Lower) && double.IsNaN(back.Debate.StandardDeviation));
        Assert.Equal(first.Debate.Mean, back.Debate.Mean);
    }

    [Fact]
    public void A_cancelled_run_stops()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => new Sandwiching(SandwichingTestKit.Tiny).Run(cancellationToken: cts.Token));
    }

    public static TheoryData<string, Func<SandwichingOptions, SandwichingOptions>> InvalidOptions => new()
    {
        { "Seeds", o => o with { Seeds = [] } },
        { "Seeds", o => o with { Seeds = [1, 1] } },
        { "TrainSize", o => o with { TrainSize = 0 } },
        { "TestSize", o => o with { TestSize = 0 } },
        { "Reveals", o => o with { Reveals = 0 } },
        { "Reveals", o => o with { Reveals = 33 } },
        { "JudgeHiddenWidth", o => o with { JudgeHiddenWidth = 0 } },
        { "JudgeDepth", o => o with { JudgeDepth = 65 } },
        { "ExpertDepth", o => o with { ExpertDepth = -1 } },
        { "ExpertHiddenWidth", o => o with { ExpertHiddenWidth = 0 } },
        { "JudgeSteps", o => o with { JudgeSteps = 0 } },
        { "ExpertSteps", o => o with { ExpertSteps = 0 } },
        { "BatchSize", o => o with { BatchSize = 0 } },
        { "LearningRate", o => o with { LearningRate = double.NaN } },
        { "ConfidenceLevel", o => o with { ConfidenceLevel = 1 } },
        { "BootstrapResamples", o => o with { BootstrapResamples = 0 } },
        { "Device", o => o with { Device = " " } },
        { "Classes", o => o with { Task = new SparseEvidenceTaskOptions(Classes: 1) } },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void Invalid_options_name_the_option(string name, Func<SandwichingOptions, SandwichingOptions> change)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Sandwiching(change(new SandwichingOptions())));
        Assert.Equal(name, e.ParamName);
        Assert.Contains(name, e.Message);
    }
}
