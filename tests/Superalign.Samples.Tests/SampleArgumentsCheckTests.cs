using Xunit;

namespace Superalign.Samples.Tests;

/// <summary>The checks the samples run before any work: values, switches, choices, devices, output directories, and the one error line.</summary>
public sealed class SampleArgumentsCheckTests
{
    private const string Usage = "--seeds N, --lr LR, --only a|b, --ensemble, --device D, --out DIR, --batch-budget N";

    [Fact]
    public void Integers_outside_their_range_or_type_name_the_option_and_the_range()
    {
        Assert.Contains("at least 1; got 0", Assert.Throws<ArgumentException>(() => SampleArguments.Parse(["--seeds", "0"], Usage).Int("seeds", 3, min: 1)).Message);
        Assert.Contains("[1, 10]; got 11", Assert.Throws<ArgumentException>(() => SampleArguments.Parse(["--seeds", "11"], Usage).Int("seeds", 3, 1, 10)).Message);
        var overflow = Assert.Throws<ArgumentException>(() => SampleArguments.Parse(["--seeds", "99999999999"], Usage).Int("seeds", 3));
        Assert.Equal("seeds", overflow.ParamName);
        Assert.Contains("'99999999999'", overflow.Message);
        Assert.Equal(3, SampleArguments.Parse([], Usage).Int("seeds", 3, min: 1));
    }

    [Theory]
    [InlineData("nan")]
    [InlineData("Infinity")]
    [InlineData("1e999")]
    public void Numbers_must_be_finite(string text)
    {
        var e = Assert.Throws<ArgumentException>(() => SampleArguments.Parse(["--lr", text], Usage).Double("lr", 1));
        Assert.Equal("lr", e.ParamName);
        Assert.Contains("finite", e.Message);
    }

    [Fact]
    public void A_switch_takes_no_value_and_an_option_needs_one()
    {
        Assert.True(SampleArguments.Parse(["--ensemble"], Usage).Flag("ensemble"));
        Assert.Contains("takes no value", Assert.Throws<ArgumentException>(() => SampleArguments.Parse(["--ensemble", "yes"], Usage).Flag("ensemble")).Message);
        Assert.Contains("--out needs a value", Assert.Throws<ArgumentException>(() => SampleArguments.Parse(["--out"], Usage).Text("out", "artifacts")).Message);
        Assert.Contains("given twice", Assert.Throws<ArgumentException>(() => SampleArguments.Parse(["--seeds", "1", "--seeds", "2"], Usage)).Message);
    }

    [Fact]
    public void A_choice_lists_the_allowed_values()
    {
        Assert.Equal("b", SampleArguments.Parse(["--only", "B"], Usage).Choice("only", "a", "a", "b"));
        var e = Assert.Throws<ArgumentException>(() => SampleArguments.Parse(["--only", "nope"], Usage).Choice("only", "a", "a", "b"));
        Assert.Contains("--only must be one of a, b; got 'nope'", e.Message);
    }

    [Theory]
    [InlineData("auto", true)]
    [InlineData("CPU", true)]
    [InlineData("cuda", true)]
    [InlineData("cuda:1", true)]
    [InlineData("tpu", false)]
    [InlineData("cuda:", false)]
    [InlineData("cuda:x", false)]
    public void Device_names_are_checked_for_their_form(string device, bool valid)
    {
        var a = SampleArguments.Parse(["--device", device], Usage);
        if (valid) Assert.Equal(device.ToLowerInvariant(), a.Device("device", "auto"));
        else Assert.Contains("auto, cpu, cuda or cuda:N", Assert.Throws<ArgumentException>(() => a.Device("device", "auto")).Message);
    }

    [Fact]
    public void An_output_directory_is_created_and_probed_and_one_that_cannot_be_is_named()
    {
        string root = Path.Combine(Path.GetTempPath(), $"superalign-args-{Guid.NewGuid():N}");
        try
        {
            string good = Path.Combine(root, "a", "b");
            Assert.Equal(good, SampleArguments.Parse(["--out", good], Usage).OutputDirectory("out", "x"));
            Assert.Empty(Directory.GetFileSystemEntries(good)); // the probe file is gone
            File.WriteAllText(Path.Combine(root, "file"), "");
            string blocked = Path.Combine(root, "file", "sub");
            var e = Assert.Throws<ArgumentException>(() => SampleArguments.Parse(["--out", blocked], Usage).OutputDirectory("out", "x"));
            Assert.Equal("out", e.ParamName);
            Assert.StartsWith("--out: cannot write results to", e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void The_error_line_is_one_line_and_names_the_option_a_protocol_property_maps_to()
    {
        var a = SampleArguments.Parse([], Usage).Bind("LearningRate", "lr");
        // .NET appends "(Parameter 'x')" and, on a new line, "Actual value was …".
        var bound = a.ErrorLine(new ArgumentOutOfRangeException("LearningRate", -1.0, "Options.LearningRate must be > 0; got -1."));
        Assert.Equal("sample: --lr: Options.LearningRate must be > 0; got -1.", bound);
        var kebab = a.ErrorLine(new ArgumentOutOfRangeException("BatchBudget", 0, "Options.BatchBudget must be at least 2; got 0."));
        Assert.Equal("sample: --batch-budget: Options.BatchBudget must be at least 2; got 0.", kebab);
        var named = a.ErrorLine(new ArgumentException("--seeds must be at least 1; got 0.", "seeds"));
        Assert.Equal("sample: --seeds must be at least 1; got 0.", named);
        var unknown = a.ErrorLine(new ArgumentException("two\nlines", "Other"));
        Assert.Equal("sample: two lines", unknown);
    }

    [Fact]
    public void A_program_without_options_says_so()
    {
        var e = Assert.Throws<ArgumentException>(() => SampleArguments.Parse(["--seeds", "1"], ""));
        Assert.Contains("takes no options", e.Message);
        Assert.True(SampleArguments.Parse(["--help"], "").HelpRequested);
    }
}
