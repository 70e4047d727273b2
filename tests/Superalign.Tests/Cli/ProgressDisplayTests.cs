using FsCheck;
using FsCheck.Fluent;
using Superalign.Cli;
using Superalign.Experiments.Protocols;
using Xunit;

namespace Superalign.Tests.Cli;

public class ProgressDisplayTests
{
    [Fact]
    public void Plain_lines_carry_the_report_the_percentage_and_an_eta_and_read_back()
    {
        var p = new ProtocolProgress("co-optimization", "seed 3: alternating (1:1) trained", 7, 28);
        string line = ProgressDisplay.PlainLine(p, TimeSpan.FromSeconds(125));
        Assert.Equal("[co-optimization 7/28] seed 3: alternating (1:1) trained (25%, ETA 2m05s)", line);
        Assert.True(ProgressDisplay.TryParse(line, out var back));
        Assert.Equal(p, back);
        Assert.False(ProgressDisplay.TryParse("warn: something (else)", out _));
        Assert.False(ProgressDisplay.TryParse("[co-optimization 7/28] no eta suffix", out _));
    }

    [Fact]
    public void Any_report_survives_the_plain_line()
    {
        var reports = (from protocol in Gen.Elements("sandwiching", "weak-to-strong", "x")
                       from stage in Gen.Elements("", "seed 0: judge trained", "a (b) c", "ends with (1%, ETA x) inside", "[odd] / text")
                       from total in Gen.Choose(0, 10_000)
                       from done in Gen.Choose(0, 10_000)
                       from seconds in Gen.Choose(0, 1_000_000)
                       select (new ProtocolProgress(protocol, stage, Math.Min(done, total), total), seconds)).ToArbitrary();
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(300), Prop.ForAll(reports, k =>
            ProgressDisplay.TryParse(ProgressDisplay.PlainLine(k.Item1, TimeSpan.FromSeconds(k.seconds)), out var back) && back == k.Item1));
    }

    [Fact]
    public void A_redirected_writer_gets_plain_lines_with_the_lane_prefix_and_its_own_pace()
    {
        var error = new StringWriter();
        Assert.False(ProgressDisplay.IsInteractive(error));
        int got = ProgressDisplay.Run(error, 2, i => $"[job {i}]", display =>
        {
            display.Lane(1).Report(new ProtocolProgress("sandwiching", "seed 1: expert trained", 1, 3));
            display.WriteLine(0, "a message");
            display.Lane(1).Report(new ProtocolProgress("sandwiching", "seed 1: judge trained", 2, 3));
            return 42;
        });
        Assert.Equal(42, got);
        var lines = error.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.Equal("[job 1] [sandwiching 1/3] seed 1: expert trained (33%, ETA ?)", lines[0]); // no pace yet
        Assert.Equal("[job 0] a message", lines[1]);
        Assert.Matches(@"^\[job 1\] \[sandwiching 2/3\] seed 1: judge trained \(67%, ETA \d+s\)$", lines[2]);
    }
}
