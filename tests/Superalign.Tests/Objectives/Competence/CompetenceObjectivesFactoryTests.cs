using Superalign.Objectives.Competence;
using Xunit;

namespace Superalign.Tests.Objectives.Competence;

/// <summary>
/// The competence factory against a table written out here by hand (not read from the production table): names and
/// their order, the class each builds, the options each takes and their defaults, normalisation, and the rejection of
/// every option an objective does not take.
/// </summary>
public sealed class CompetenceObjectivesFactoryTests
{
    /// <summary>What the factory should build for each name: the class, the options it takes, their defaults.</summary>
    private static readonly (string Name, Type Type, (string Option, object Default)[] Options)[] Expected =
    [
        ("ce", typeof(CrossEntropyObjective), [("labelSmoothing", 0.0)]),
        ("nll", typeof(TokenNllObjective), []),
        ("xent", typeof(SoftCrossEntropyObjective), []),
        ("kl", typeof(KlObjective), []),
        ("product", typeof(ProductObjective), [("alpha", 1.0), ("beta", 1.0)]),
        ("logconf", typeof(LogConfidenceObjective), [("alpha", 0.5), ("warmupFraction", 0.2), ("hardening", Hardening.Auto)]),
        ("entropy", typeof(EntropyObjective), [("alpha", 0.5)]),
    ];

    /// <summary>Every option of <see cref="CompetenceObjectives.Create"/> in parameter order, with a valid non-default value.</summary>
    private static readonly (string Option, object Value)[] AllOptions =
    [
        ("alpha", 0.3), ("beta", 0.7), ("labelSmoothing", 0.1), ("warmupFraction", 0.35), ("hardening", Hardening.Argmax),
    ];

    private static ICompetenceObjective CreateWith(string name, string option, object value) => option switch
    {
        "alpha" => CompetenceObjectives.Create(name, alpha: (double)value),
        "beta" => CompetenceObjectives.Create(name, beta: (double)value),
        "labelSmoothing" => CompetenceObjectives.Create(name, labelSmoothing: (double)value),
        "warmupFraction" => CompetenceObjectives.Create(name, warmupFraction: (double)value),
        "hardening" => CompetenceObjectives.Create(name, hardening: (Hardening)value),
        _ => throw new ArgumentOutOfRangeException(nameof(option), option, "not an option of CompetenceObjectives.Create"),
    };

    /// <summary>The objective's property holding <paramref name="option"/> (the option's name in Pascal case).</summary>
    private static object? Read(ICompetenceObjective objective, string option) =>
        objective.GetType().GetProperty(char.ToUpperInvariant(option[0]) + option[1..])!.GetValue(objective);

    public static TheoryData<string, string> NameOptionPairs()
    {
        var data = new TheoryData<string, string>();
        foreach (var e in Expected)
            foreach (var (option, _) in AllOptions)
                data.Add(e.Name, option);
        return data;
    }

    [Fact]
    public void Names_are_the_expected_ones_in_order_each_once()
    {
        Assert.Equal(Expected.Select(e => e.Name), CompetenceObjectives.Names);
    }

    [Fact]
    public void Every_name_builds_its_class_with_that_name_and_its_defaults()
    {
        foreach (var (name, type, options) in Expected)
        {
            var objective = CompetenceObjectives.Create(name);
            Assert.IsType(type, objective);
            Assert.Equal(name, objective.Name);
            foreach (var (option, @default) in options)
                Assert.Equal(@default, Read(objective, option));
        }
    }

    [Fact]
    public void Every_name_normalises_to_itself_in_any_case_with_surrounding_spaces()
    {
        foreach (string name in CompetenceObjectives.Names)
        {
            string mixed = string.Concat(name.Select((c, i) => i % 2 == 0 ? char.ToUpperInvariant(c) : c));
            foreach (string spelling in new[] { name, name.ToUpperInvariant(), $"  {mixed}\t", $" {name.ToUpperInvariant()} " })
            {
                Assert.Equal(name, CompetenceObjectives.Normalize(spelling));
                Assert.Equal(name, CompetenceObjectives.Create(spelling).Name);
            }
        }
    }

    [Theory]
    [InlineData("cross_entropy")]
    [InlineData("c e")]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("sigmoid")]
    public void Unknown_name_normalises_to_null_and_create_lists_the_valid_names(string name)
    {
        Assert.Null(CompetenceObjectives.Normalize(name));
        var ex = Assert.Throws<ArgumentException>(() => CompetenceObjectives.Create(name));
        Assert.Equal("name", ex.ParamName);
        foreach (var e in Expected) Assert.Contains(e.Name, ex.Message);
    }

    [Fact]
    public void Null_name_normalises_to_null_and_create_throws_argument_null()
    {
        Assert.Null(CompetenceObjectives.Normalize(null));
        Assert.Equal("name", Assert.Throws<ArgumentNullException>(() => CompetenceObjectives.Create(null!)).ParamName);
    }

    [Theory]
    [MemberData(nameof(NameOptionPairs))]
    public void Each_option_is_passed_through_where_taken_and_rejected_naming_it_elsewhere(string name, string option)
    {
        var expected = Expected.Single(e => e.Name == name);
        object value = AllOptions.Single(o => o.Option == option).Value;
        if (expected.Options.Any(o => o.Option == option))
        {
            var objective = CreateWith(name, option, value);
            Assert.IsType(expected.Type, objective);
            Assert.Equal(value, Read(objective, option));
            foreach (var (other, @default) in expected.Options.Where(o => o.Option != option))
                Assert.Equal(@default, Read(objective, other));
        }
        else
        {
            var ex = Assert.Throws<ArgumentException>(() => CreateWith(name, option, value));
            Assert.Equal(option, ex.ParamName);
            Assert.Contains(name, ex.Message);
            if (expected.Options.Length == 0) Assert.Contains("no options", ex.Message);
            foreach (var (taken, _) in expected.Options) Assert.Contains(taken, ex.Message);
        }
    }

    [Fact]
    public void Several_options_not_taken_name_the_first_in_parameter_order()
    {
        Assert.Equal("alpha", Assert.Throws<ArgumentException>(() => CompetenceObjectives.Create("nll", alpha: 1, hardening: Hardening.Argmax)).ParamName);
        Assert.Equal("beta", Assert.Throws<ArgumentException>(() => CompetenceObjectives.Create("logconf", alpha: 1, beta: 1, labelSmoothing: 0.1)).ParamName);
        Assert.Equal("warmupFraction", Assert.Throws<ArgumentException>(() => CompetenceObjectives.Create("product", alpha: 1, warmupFraction: 0.1, hardening: Hardening.Auto)).ParamName);
    }

    [Fact]
    public void All_options_of_an_objective_together_are_passed_through()
    {
        var product = Assert.IsType<ProductObjective>(CompetenceObjectives.Create("product", alpha: 2, beta: 3));
        Assert.Equal((2.0, 3.0), (product.Alpha, product.Beta));
        var logconf = Assert.IsType<LogConfidenceObjective>(CompetenceObjectives.Create("LogConf", alpha: 0.75, warmupFraction: 0.5, hardening: Hardening.MatchWeakMarginals));
        Assert.Equal((0.75, 0.5, Hardening.MatchWeakMarginals), (logconf.Alpha, logconf.WarmupFraction, logconf.Hardening));
    }

    [Fact]
    public void Out_of_range_options_are_argument_out_of_range_naming_the_option()
    {
        Assert.Equal("labelSmoothing", Assert.Throws<ArgumentOutOfRangeException>(() => CompetenceObjectives.Create("ce", labelSmoothing: -0.1)).ParamName);
        Assert.Equal("warmupFraction", Assert.Throws<ArgumentOutOfRangeException>(() => CompetenceObjectives.Create("logconf", warmupFraction: 1.5)).ParamName);
    }
}
