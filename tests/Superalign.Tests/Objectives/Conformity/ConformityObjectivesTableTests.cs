using Superalign.Objectives;
using Superalign.Objectives.Conformity;
using Xunit;

namespace Superalign.Tests.Objectives.Conformity;

/// <summary>
/// The conformity factory against a table written out here by hand (not read from the production table): the class
/// each name builds, the options each takes and their defaults, normalisation with TRL's alias, and the rejection of
/// every option an objective does not take.
/// </summary>
public sealed class ConformityObjectivesTableTests
{
    /// <summary>What the factory should build for each name: the class and the options it takes (beta for all).</summary>
    private static readonly (string Name, Type Type, string[] Options)[] Expected =
    [
        ("sigmoid", typeof(SigmoidObjective), ["beta", "labelSmoothing"]),
        ("hinge", typeof(HingeObjective), ["beta"]),
        ("ipo", typeof(IpoObjective), ["beta"]),
        ("robust", typeof(RobustObjective), ["beta", "labelSmoothing"]),
        ("exo_pair", typeof(ExoPairObjective), ["beta", "labelSmoothing"]),
        ("nca_pair", typeof(NcaPairObjective), ["beta"]),
        ("bco_pair", typeof(BcoPairObjective), ["beta"]),
        ("sppo_hard", typeof(SppoHardObjective), ["beta"]),
        ("aot", typeof(AotObjective), ["beta", "labelSmoothing"]),
        ("aot_unpaired", typeof(AotUnpairedObjective), ["beta", "labelSmoothing"]),
        ("apo_zero", typeof(ApoZeroObjective), ["beta"]),
        ("apo_down", typeof(ApoDownObjective), ["beta"]),
        ("discopop", typeof(DiscopopObjective), ["beta", "tau"]),
        ("simpo", typeof(SimpoObjective), ["beta", "gamma", "labelSmoothing"]),
        ("cpo", typeof(CpoObjective), ["beta", "alpha", "labelSmoothing"]),
        ("orpo", typeof(OrpoObjective), ["beta", "lambda"]),
    ];

    /// <summary>Every option of <see cref="ConformityObjectives.Create"/> in parameter order, with a valid non-default value.</summary>
    private static readonly (string Option, double Value)[] AllOptions =
    [
        ("beta", 0.3), ("labelSmoothing", 0.2), ("gamma", 0.8), ("alpha", 0.4), ("lambda", 0.25), ("tau", 0.2),
    ];

    /// <summary>The default of <paramref name="option"/> for <paramref name="name"/> when not given.</summary>
    private static double Default(string name, string option) => (name, option) switch
    {
        ("simpo", "beta") => 2.0,
        ("exo_pair", "labelSmoothing") => 1e-3, // TRL's default ε when label_smoothing is 0
        (_, "beta") => 0.1,
        (_, "labelSmoothing") => 0,
        (_, "gamma") => 0.5,
        (_, "alpha") => 1.0,
        (_, "lambda") => 0.1,
        (_, "tau") => 0.05,
        _ => throw new ArgumentOutOfRangeException(nameof(option), option, "not an option of ConformityObjectives.Create"),
    };

    /// <summary>The property of <paramref name="name"/>'s class holding <paramref name="option"/>: its Pascal-case name, except where the class renames it.</summary>
    private static string Property(string name, string option) => (name, option) switch
    {
        ("exo_pair", "labelSmoothing") => "Epsilon",
        ("orpo", "beta") => "Lambda", // ORPO's λ is what TRL calls beta: one strength under two names
        _ => char.ToUpperInvariant(option[0]) + option[1..],
    };

    private static double Read(IConformityObjective objective, string option) =>
        (double)objective.GetType().GetProperty(Property(objective.Name, option))!.GetValue(objective)!;

    private static IConformityObjective CreateWith(string name, string option, double value) => option switch
    {
        "beta" => ConformityObjectives.Create(name, beta: value),
        "labelSmoothing" => ConformityObjectives.Create(name, labelSmoothing: value),
        "gamma" => ConformityObjectives.Create(name, gamma: value),
        "alpha" => ConformityObjectives.Create(name, alpha: value),
        "lambda" => ConformityObjectives.Create(name, lambda: value),
        "tau" => ConformityObjectives.Create(name, tau: value),
        _ => throw new ArgumentOutOfRangeException(nameof(option), option, "not an option of ConformityObjectives.Create"),
    };

    public static TheoryData<string, string> NameOptionPairs()
    {
        var data = new TheoryData<string, string>();
        foreach (var e in Expected)
            foreach (var (option, _) in AllOptions)
                data.Add(e.Name, option);
        return data;
    }

    [Fact]
    public void Names_are_the_expected_ones_in_order()
    {
        Assert.Equal(Expected.Select(e => e.Name), ConformityObjectives.Names);
    }

    [Fact]
    public void Every_name_builds_its_class_with_that_name_and_its_defaults()
    {
        foreach (var (name, type, options) in Expected)
        {
            var objective = ConformityObjectives.Create(name);
            Assert.IsType(type, objective);
            Assert.Equal(name, objective.Name);
            foreach (string option in options)
                Assert.Equal(Default(name, option), Read(objective, option));
        }
    }

    [Fact]
    public void Every_name_normalises_to_itself_in_any_case_with_surrounding_spaces()
    {
        foreach (string name in ConformityObjectives.Names)
        {
            string mixed = string.Concat(name.Select((c, i) => i % 2 == 0 ? char.ToUpperInvariant(c) : c));
            foreach (string spelling in new[] { name, name.ToUpperInvariant(), $"  {mixed}\t", $" {name.ToUpperInvariant()} " })
            {
                Assert.Equal(name, ConformityObjectives.Normalize(spelling));
                Assert.Equal(name, ConformityObjectives.Create(spelling).Name);
            }
        }
    }

    [Theory]
    [InlineData("aot_pair")]
    [InlineData(" AOT_Pair ")]
    public void Trls_alias_normalises_to_the_canonical_name(string alias)
    {
        Assert.Equal("aot_unpaired", ConformityObjectives.Normalize(alias));
        var objective = Assert.IsType<AotUnpairedObjective>(ConformityObjectives.Create(alias, beta: 0.2, labelSmoothing: 0.1));
        Assert.Equal(("aot_unpaired", 0.2, 0.1), (objective.Name, objective.Beta, objective.LabelSmoothing));
        // The alias takes the canonical objective's options, no more.
        Assert.Equal("tau", Assert.Throws<ArgumentException>(() => ConformityObjectives.Create(alias, tau: 1)).ParamName);
    }

    [Theory]
    [InlineData("dpo")]
    [InlineData("kto_pair")]
    [InlineData("aot pair")]
    [InlineData("")]
    [InlineData("  ")]
    [InlineData("ce")]
    public void Unknown_name_normalises_to_null_and_create_lists_the_valid_names(string name)
    {
        Assert.Null(ConformityObjectives.Normalize(name));
        var ex = Assert.Throws<ArgumentException>(() => ConformityObjectives.Create(name));
        Assert.Equal("name", ex.ParamName);
        foreach (var e in Expected) Assert.Contains(e.Name, ex.Message);
        Assert.Contains("aot_pair", ex.Message);
    }

    [Fact]
    public void Null_name_normalises_to_null()
    {
        Assert.Null(ConformityObjectives.Normalize(null));
    }

    [Theory]
    [MemberData(nameof(NameOptionPairs))]
    public void Each_option_is_passed_through_where_taken_and_rejected_naming_it_elsewhere(string name, string option)
    {
        var expected = Expected.Single(e => e.Name == name);
        double value = AllOptions.Single(o => o.Option == option).Value;
        if (expected.Options.Contains(option))
        {
            var objective = CreateWith(name, option, value);
            Assert.IsType(expected.Type, objective);
            Assert.Equal(value, Read(objective, option));
            foreach (string other in expected.Options.Where(o => Property(name, o) != Property(name, option)))
                Assert.Equal(Default(name, other), Read(objective, other));
        }
        else
        {
            var ex = Assert.Throws<ArgumentException>(() => CreateWith(name, option, value));
            Assert.Equal(option, ex.ParamName);
            Assert.Contains(name, ex.Message);
            foreach (string taken in expected.Options) Assert.Contains(taken, ex.Message);
        }
    }

    [Fact]
    public void Label_smoothing_zero_means_not_given()
    {
        foreach (var (name, type, _) in Expected)
            Assert.IsType(type, ConformityObjectives.Create(name, labelSmoothing: 0));
    }

    [Fact]
    public void Several_options_not_taken_name_the_first_in_parameter_order()
    {
        Assert.Equal("labelSmoothing", Assert.Throws<ArgumentException>(() => ConformityObjectives.Create("hinge", labelSmoothing: 0.1, tau: 1)).ParamName);
        Assert.Equal("gamma", Assert.Throws<ArgumentException>(() => ConformityObjectives.Create("cpo", gamma: 1, lambda: 1)).ParamName);
        Assert.Equal("alpha", Assert.Throws<ArgumentException>(() => ConformityObjectives.Create("orpo", alpha: 1, tau: 1)).ParamName);
        // The option check comes before range checks.
        Assert.Equal("tau", Assert.Throws<ArgumentException>(() => ConformityObjectives.Create("ipo", beta: -1, tau: 1)).ParamName);
    }

    [Fact]
    public void Orpo_takes_one_strength_under_either_name()
    {
        Assert.Equal(0.3, Assert.IsType<OrpoObjective>(ConformityObjectives.Create("orpo", beta: 0.3, lambda: 0.3)).Lambda);
        Assert.Equal("lambda", Assert.Throws<ArgumentException>(() => ConformityObjectives.Create("orpo", beta: 0.2, lambda: 0.3)).ParamName);
        Assert.Equal("beta", Assert.Throws<ArgumentOutOfRangeException>(() => ConformityObjectives.Create("orpo", beta: -1)).ParamName);
        Assert.Equal("lambda", Assert.Throws<ArgumentOutOfRangeException>(() => ConformityObjectives.Create("orpo", lambda: 0)).ParamName);
    }

    [Fact]
    public void All_options_of_an_objective_together_are_passed_through()
    {
        var simpo = Assert.IsType<SimpoObjective>(ConformityObjectives.Create("SimPO", beta: 2.5, labelSmoothing: 0.1, gamma: 0.3));
        Assert.Equal((2.5, 0.3, 0.1), (simpo.Beta, simpo.Gamma, simpo.LabelSmoothing));
        var cpo = Assert.IsType<CpoObjective>(ConformityObjectives.Create("cpo", beta: 0.2, labelSmoothing: 0.05, alpha: 0.5));
        Assert.Equal((0.2, 0.5, 0.05), (cpo.Beta, cpo.Alpha, cpo.LabelSmoothing));
        var discopop = Assert.IsType<DiscopopObjective>(ConformityObjectives.Create("discopop", beta: 0.2, tau: 0.1));
        Assert.Equal((0.2, 0.1), (discopop.Beta, discopop.Tau));
        var exo = Assert.IsType<ExoPairObjective>(ConformityObjectives.Create("exo_pair", beta: 0.2, labelSmoothing: 0.9));
        Assert.Equal((0.2, 0.9), (exo.Beta, exo.Epsilon));
    }
}
