using Superalign.Samples;
using Xunit;

namespace Superalign.Samples.Tests;

public class SampleArgumentsTests
{
    private const string Usage = "--seeds N, --lr LR, --schedule one|stride:K, --ladder w8-d1,w16-d1, --conflict-aware, --out DIR";

    [Fact]
    public void Reads_values_switches_and_fallbacks()
    {
        var a = SampleArguments.Parse(["--seeds", "3", "--conflict-aware", "--lr", "2e-3", "--out", "x/y"], Usage);
        Assert.Equal(3, a.Int("seeds", 5));
        Assert.Equal(2e-3, a.Double("lr", 1));
        Assert.Equal("x/y", a.Text("out", "artifacts"));
        Assert.True(a.Flag("conflict-aware"));
        Assert.False(a.Flag("ladder"));
        Assert.Null(a.Optional("ladder"));
        Assert.Equal("one", a.Text("schedule", "one"));
        Assert.False(a.HelpRequested);
    }

    [Fact]
    public void Lists_only_the_option_names_of_the_usage()
    {
        Assert.Equal(["seeds", "lr", "schedule", "ladder", "conflict-aware", "out"], SampleArguments.KnownNames(Usage));
    }

    [Theory]
    [InlineData("--seed")]
    [InlineData("--w16-d1")]
    [InlineData("--h")]
    public void Rejects_an_option_the_usage_does_not_list_naming_it(string option)
    {
        var e = Assert.Throws<ArgumentException>(() => SampleArguments.Parse(["--seeds", "2", option, "1"], Usage));
        Assert.Contains($"'{option}'", e.Message);
        Assert.Contains(Usage, e.Message);
    }

    [Theory]
    [InlineData("seeds")]
    [InlineData("-x")]
    [InlineData("--")]
    public void Rejects_an_argument_that_is_not_an_option(string argument)
    {
        var e = Assert.Throws<ArgumentException>(() => SampleArguments.Parse([argument], Usage));
        Assert.Contains($"'{argument}'", e.Message);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("--HELP")]
    public void Recognises_a_request_for_help(string argument)
    {
        Assert.True(SampleArguments.Parse(["--seeds", "2", argument], Usage).HelpRequested);
    }

    [Fact]
    public void A_bad_number_names_the_option_and_the_value()
    {
        var a = SampleArguments.Parse(["--seeds", "three", "--lr"], Usage);
        var e = Assert.Throws<ArgumentException>(() => a.Int("seeds", 5));
        Assert.Equal("seeds", e.ParamName);
        Assert.Contains("'three'", e.Message);
        Assert.Equal("lr", Assert.Throws<ArgumentException>(() => a.Double("lr", 1)).ParamName); // given without a value
    }

    [Theory]
    [InlineData("Peer", DayOfWeek.Monday, false)]
    [InlineData(" monday ", DayOfWeek.Monday, true)]
    [InlineData("FRIDAY", DayOfWeek.Friday, true)]
    [InlineData("7", DayOfWeek.Monday, false)]
    public void Parses_enum_values_in_any_case_and_names_the_option_when_unknown(string text, DayOfWeek expected, bool valid)
    {
        if (valid)
        {
            Assert.Equal(expected, SampleArguments.ParseEnum<DayOfWeek>("day", text));
            return;
        }
        var e = Assert.Throws<ArgumentException>(() => SampleArguments.ParseEnum<DayOfWeek>("day", text));
        Assert.Equal("day", e.ParamName);
        Assert.Contains($"'{text}'", e.Message);
        Assert.Contains("Sunday", e.Message);
    }
}
