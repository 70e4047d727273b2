using FsCheck;
using FsCheck.Fluent;
using Superalign.Optimization;
using Xunit;

namespace Superalign.Tests.Optimization;

public class ScheduleTests
{
    private static string Pattern(IAlternationSchedule s, int steps) =>
        string.Concat(Enumerable.Range(0, steps).Select(i => s.Plan(i, steps).Phase switch
        {
            TrainingPhase.Competence => 'c',
            TrainingPhase.Conformity => 'f',
            _ => 'j',
        }));

    [Theory]
    [InlineData(1, 1, "cfcfcfcf")]
    [InlineData(3, 1, "cccfcccf")]
    [InlineData(2, 3, "ccfffccf")]
    [InlineData(1, 0, "cccccccc")]
    [InlineData(0, 1, "ffffffff")]
    public void Fixed_ratio_gives_the_exact_pattern(int k, int m, string expected) =>
        Assert.Equal(expected, Pattern(AlternationSchedules.FixedRatio(k, m), 8));

    [Fact]
    public void Sequential_trains_competence_first() =>
        Assert.Equal("cccccccfffffffffffff", Pattern(AlternationSchedules.Sequential(0.35), 20));

    [Fact]
    public void Joint_weights_interpolate_linearly_and_by_cosine()
    {
        var lin = AlternationSchedules.AnnealedWeights(1, 0, 0, 2, Interpolation.Linear);
        var mid = lin.Plan(5, 11); // fraction 0.5
        Assert.Equal(TrainingPhase.Joint, mid.Phase);
        Assert.Equal(0.5, mid.CompetenceWeight, 12);
        Assert.Equal(1.0, mid.ConformityWeight, 12);
        var cos = AlternationSchedules.AnnealedWeights(1, 0, 0, 2, Interpolation.Cosine);
        var quarter = cos.Plan(25, 101); // fraction 0.25: weight = end + (start-end)(1+cos(pi/4))/2
        double c = (1 + Math.Cos(Math.PI / 4)) / 2;
        Assert.Equal(c, quarter.CompetenceWeight, 12);
        Assert.Equal(2 - 2 * c, quarter.ConformityWeight, 12);
        Assert.Equal(1.0, cos.Plan(0, 101).CompetenceWeight, 12);
        Assert.Equal(2.0, cos.Plan(100, 101).ConformityWeight, 12);
    }

    [Fact]
    public void Annealed_ratio_constant_share_matches_fixed_counts()
    {
        var half = AlternationSchedules.AnnealedRatio(0.5, 0.5);
        Assert.Equal(50, Pattern(half, 100).Count(ch => ch == 'f'));
        Assert.Equal(100, Pattern(AlternationSchedules.AnnealedRatio(1, 1), 100).Count(ch => ch == 'f'));
        Assert.Equal(0, Pattern(AlternationSchedules.AnnealedRatio(0, 0), 100).Count(ch => ch == 'f'));
    }

    [Fact]
    public void Annealed_ratio_prefix_counts_track_the_integral_of_the_share()
    {
        // Linear share 0 -> 1 over T steps: after s steps the integral is s^2 / (2T).
        const int T = 400;
        var s = AlternationSchedules.AnnealedRatio(0, 1, Interpolation.Linear);
        int count = 0;
        for (int i = 0; i < T; i++)
        {
            if (s.Plan(i, T).Phase == TrainingPhase.Conformity) count++;
            double expected = (i + 1.0) * (i + 1.0) / (2.0 * T);
            Assert.InRange(count, expected - 1, expected + 1);
        }
        // Cosine share 1 -> 0: integral over the whole run is T/2.
        var cos = AlternationSchedules.AnnealedRatio(1, 0, Interpolation.Cosine);
        int total = Pattern(cos, T).Count(ch => ch == 'f');
        Assert.InRange(total, T / 2 - 1, T / 2 + 1);
        // Share near 1 at the start, near 0 at the end.
        Assert.True(Pattern(cos, T)[..20].Count(ch => ch == 'f') >= 19);
        Assert.True(Pattern(cos, T)[^20..].Count(ch => ch == 'f') <= 1);
    }

    [Fact]
    public void Fixed_ratio_property_counts_per_period()
    {
        var gen = Gen.Choose(0, 6).Two().Where(t => t.Item1 + t.Item2 > 0);
        Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var (k, m) = t;
            var pattern = Pattern(AlternationSchedules.FixedRatio(k, m), 10 * (k + m));
            return pattern.Count(ch => ch == 'c') == 10 * k && pattern.Count(ch => ch == 'f') == 10 * m;
        }).QuickCheckThrowOnFailure();
    }

    [Theory]
    [InlineData(-1, 1, "competenceSteps")]
    [InlineData(1, -1, "conformitySteps")]
    [InlineData(0, 0, "conformitySteps")]
    public void Invalid_fixed_ratio_names_the_argument(int k, int m, string name)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => AlternationSchedules.FixedRatio(k, m));
        Assert.Equal(name, ex.ParamName);
    }

    [Fact]
    public void Invalid_annealed_arguments_name_the_argument()
    {
        Assert.Equal("conformityShareStart", Assert.Throws<ArgumentOutOfRangeException>(() => AlternationSchedules.AnnealedRatio(1.5, 0)).ParamName);
        Assert.Equal("conformityShareEnd", Assert.Throws<ArgumentOutOfRangeException>(() => AlternationSchedules.AnnealedRatio(0, double.NaN)).ParamName);
        Assert.Equal("competenceStart", Assert.Throws<ArgumentOutOfRangeException>(() => AlternationSchedules.AnnealedWeights(-1, 1, 1, 1)).ParamName);
        Assert.Equal("competenceFraction", Assert.Throws<ArgumentOutOfRangeException>(() => AlternationSchedules.Sequential(2)).ParamName);
    }
}

public class LearningRateScheduleTests
{
    [Fact]
    public void Warmup_is_linear_then_cosine_reaches_the_floor_at_the_end()
    {
        const double peak = 1e-3;
        Assert.Equal(peak * 1 / 10, LearningRateSchedule.At(0, 110, peak, 10, LearningRateDecay.Cosine, 0.1), 15);
        Assert.Equal(peak * 5 / 10, LearningRateSchedule.At(4, 110, peak, 10, LearningRateDecay.Cosine, 0.1), 15);
        Assert.Equal(peak, LearningRateSchedule.At(10, 110, peak, 10, LearningRateDecay.Cosine, 0.1), 15);
        // Halfway through decay: floor + (peak - floor)/2.
        Assert.Equal(0.1 * peak + 0.45 * peak, LearningRateSchedule.At(60, 110, peak, 10, LearningRateDecay.Cosine, 0.1), 15);
        Assert.Equal(0.1 * peak, LearningRateSchedule.At(110, 110, peak, 10, LearningRateDecay.Cosine, 0.1), 15);
        Assert.True(LearningRateSchedule.At(109, 110, peak, 10, LearningRateDecay.Cosine, 0) > 0);
    }

    [Fact]
    public void Linear_and_constant_decay()
    {
        Assert.Equal(0.5, LearningRateSchedule.At(50, 100, 1, 0, LearningRateDecay.Linear, 0), 15);
        Assert.Equal(1.0, LearningRateSchedule.At(99, 100, 1, 0, LearningRateDecay.Constant, 0), 15);
        Assert.Equal(1.0, LearningRateSchedule.At(0, 1, 1, 0, LearningRateDecay.Cosine, 0), 15);
    }

    [Fact]
    public void Cosine_decay_is_monotone_and_bounded() =>
        Prop.ForAll(Gen.Choose(1, 500).Two().ToArbitrary(), t =>
        {
            var (total, warm) = (t.Item1 + t.Item2, t.Item2 % (t.Item1 + 1));
            double prev = double.PositiveInfinity;
            for (int s = warm; s < total; s++)
            {
                double lr = LearningRateSchedule.At(s, total, 2.0, warm, LearningRateDecay.Cosine, 0.25);
                if (lr > prev + 1e-12 || lr < 0.5 - 1e-12 || lr > 2.0 + 1e-12) return false;
                prev = lr;
            }
            return true;
        }).QuickCheckThrowOnFailure();
}
