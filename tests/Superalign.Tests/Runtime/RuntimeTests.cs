using FsCheck;
using FsCheck.Fluent;
using Microsoft.Extensions.Logging;
using Superalign.Data;
using Superalign.Optimization;
using Superalign.Runtime;
using Superalign.Tests.Experiments;
using Superalign.Tests.Infrastructure;
using TorchSharp;
using Xunit;

namespace Superalign.Tests.Runtime;

public class RemainingTimeTests
{
    [Fact]
    public void The_first_report_sets_the_pace_start_and_later_ones_extrapolate_linearly()
    {
        var eta = new RemainingTime();
        Assert.Null(eta.Estimate(10, 110, TimeSpan.FromSeconds(3))); // a resumed run at 10/110: nothing timed yet
        // 20 units in 40 s since then: 2 s per unit, 80 left -> 160 s.
        Assert.Equal(TimeSpan.FromSeconds(160), eta.Estimate(30, 110, TimeSpan.FromSeconds(40)));
        Assert.Equal(TimeSpan.Zero, eta.Estimate(110, 110, TimeSpan.FromSeconds(200)));
        Assert.Null(eta.Estimate(5, 0, TimeSpan.FromSeconds(1))); // unknown total
        eta.Restart();
        Assert.Null(eta.Estimate(50, 110, TimeSpan.FromSeconds(1)));
        Assert.Equal(TimeSpan.FromSeconds(60), eta.Estimate(80, 110, TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public void Formats_round_up_to_whole_seconds_and_switch_units()
    {
        Assert.Equal("?", RemainingTime.Format(null));
        Assert.Equal("0s", RemainingTime.Format(TimeSpan.Zero));
        Assert.Equal("1s", RemainingTime.Format(TimeSpan.FromMilliseconds(1)));
        Assert.Equal("59s", RemainingTime.Format(TimeSpan.FromSeconds(58.2)));
        Assert.Equal("1m00s", RemainingTime.Format(TimeSpan.FromSeconds(59.5)));
        Assert.Equal("12m05s", RemainingTime.Format(TimeSpan.FromSeconds(725)));
        Assert.Equal("3h07m", RemainingTime.Format(TimeSpan.FromMinutes(187.5)));
        Assert.Equal("2d04h", RemainingTime.Format(TimeSpan.FromHours(52)));
        Assert.Equal("0s", RemainingTime.Format(TimeSpan.FromSeconds(-3)));
    }

    [Fact]
    public void The_estimate_is_elapsed_per_unit_times_units_left_for_any_counts()
    {
        var cases = (from start in Gen.Choose(0, 1000)
                     from timed in Gen.Choose(1, 1000)
                     from left in Gen.Choose(0, 1000)
                     from milliseconds in Gen.Choose(1, 100_000)
                     select (start, timed, left, milliseconds)).ToArbitrary();
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(300), Prop.ForAll(cases, k =>
        {
            var eta = new RemainingTime();
            eta.Estimate(k.start, k.start + k.timed + k.left, TimeSpan.Zero);
            var got = eta.Estimate(k.start + k.timed, k.start + k.timed + k.left, TimeSpan.FromMilliseconds(k.milliseconds))!.Value;
            double expected = k.milliseconds / 1000.0 * k.left / k.timed;
            return Math.Abs(got.TotalSeconds - expected) <= 1e-6 * Math.Max(1, expected);
        }));
    }
}

public class TorchThreadsTests
{
    [Fact]
    public void Recommends_one_thread_below_the_measured_crossover_and_all_cores_above()
    {
        Assert.Equal(1, TorchThreads.Recommended(0, cores: 8));
        Assert.Equal(1, TorchThreads.Recommended(TorchThreads.SingleThreadBelowParameters - 1, cores: 8));
        Assert.Equal(8, TorchThreads.Recommended(TorchThreads.SingleThreadBelowParameters, cores: 8));
        Assert.Equal(Environment.ProcessorCount, TorchThreads.Recommended(long.MaxValue));
        Assert.Throws<ArgumentOutOfRangeException>(() => TorchThreads.Recommended(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => TorchThreads.Recommended(10, cores: 0));
    }

    [Fact]
    public void Use_sets_the_count_and_its_disposal_restores_the_previous_one()
    {
        int before = torch.get_num_threads();
        int other = before == 1 ? 2 : 1;
        var scope = TorchThreads.Use(other);
        Assert.Equal(other, torch.get_num_threads());
        scope.Dispose();
        Assert.Equal(before, torch.get_num_threads());
        scope.Dispose(); // a second disposal changes nothing
        Assert.Equal(before, torch.get_num_threads());
        Assert.Throws<ArgumentOutOfRangeException>(() => TorchThreads.Use(0));
    }
}

public class OptimizerLogLineTests
{
    [Fact]
    public void Every_logged_update_names_its_count_of_the_total_and_an_eta()
    {
        var (x, y) = ToyData.Classification(64, 6, 3, seed: 2);
        var data = SupervisedDataset.ForClassification(x, y);
        using var student = new LinearTestStudent(6, 3, seed: 2);
        var log = new ResumeTestKit.RecordingLoggerFactory();
        var options = new AlternatingOptimizerOptions { TotalSteps = 6, LogEvery = 2, Schedule = AlternationSchedules.CompetenceOnly() };
        using (var optimizer = new AlternatingOptimizer(student, new TestCrossEntropy(), null, options, logger: log.CreateLogger<AlternatingOptimizer>()))
            optimizer.Train(data.Batches(16, seed: 2), null);
        var lines = log.Lines.Where(l => l.Level == LogLevel.Information && l.Message.StartsWith("update ", StringComparison.Ordinal)).Select(l => l.Message).ToList();
        Assert.Equal(3, lines.Count);
        Assert.StartsWith("update 2/6 (33%, ETA ", lines[0]);
        Assert.StartsWith("update 6/6 (100%, ETA 0s): step 5 competence loss=", lines[2]);
        // The ETA of a middle line is a formatted duration (the pace was measured on the updates before it).
        Assert.Matches(@"^update 4/6 \(67%, ETA \d+(s|m\d\ds)\): step 3 ", lines[1]);
    }
}
