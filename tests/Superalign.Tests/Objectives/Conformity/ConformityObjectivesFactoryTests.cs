using Superalign.Objectives;
using Superalign.Objectives.Conformity;
using Xunit;

namespace Superalign.Tests.Objectives.Conformity;

public class ConformityObjectivesFactoryTests
{
    [Fact]
    public void Names_lists_every_objective_once_in_trl_spelling()
    {
        Assert.Equal(ScalarConformity.Names, ConformityObjectives.Names);
        Assert.Equal(ConformityObjectives.Names.Count, ConformityObjectives.Names.Distinct().Count());
    }

    [Fact]
    public void Every_name_round_trips_case_insensitively()
    {
        foreach (string name in ConformityObjectives.Names)
        {
            Assert.Equal(name, ConformityObjectives.Create(name).Name);
            Assert.Equal(name, ConformityObjectives.Create(name.ToUpperInvariant()).Name);
            Assert.Equal(!ScalarConformity.ReferenceFree.Contains(name), ConformityObjectives.Create(name).RequiresReference);
        }
        Assert.Equal("aot_unpaired", ConformityObjectives.Create("aot_pair").Name); // TRL's name for it
    }

    [Fact]
    public void Create_passes_the_parameters_through_and_keeps_each_objectives_defaults()
    {
        var dpo = Assert.IsType<SigmoidObjective>(ConformityObjectives.Create("sigmoid", beta: 0.1));
        Assert.Equal((0.1, 0.0), (dpo.Beta, dpo.LabelSmoothing));
        var cdpo = Assert.IsType<SigmoidObjective>(ConformityObjectives.Create("Sigmoid", beta: 0.25, labelSmoothing: 0.1));
        Assert.Equal((0.25, 0.1), (cdpo.Beta, cdpo.LabelSmoothing));
        var simpo = Assert.IsType<SimpoObjective>(ConformityObjectives.Create("simpo"));
        Assert.Equal((2.0, 0.5), (simpo.Beta, simpo.Gamma));
        Assert.Equal(0.8, Assert.IsType<SimpoObjective>(ConformityObjectives.Create("simpo", gamma: 0.8)).Gamma);
        var cpo = Assert.IsType<CpoObjective>(ConformityObjectives.Create("cpo", alpha: 0.3));
        Assert.Equal((0.1, 0.3), (cpo.Beta, cpo.Alpha));
        Assert.Equal(0.1, Assert.IsType<OrpoObjective>(ConformityObjectives.Create("orpo")).Lambda);
        Assert.Equal(0.4, Assert.IsType<OrpoObjective>(ConformityObjectives.Create("orpo", lambda: 0.4)).Lambda);
        Assert.Equal(0.3, Assert.IsType<OrpoObjective>(ConformityObjectives.Create("orpo", beta: 0.3)).Lambda); // TRL's beta
        Assert.Equal(0.05, Assert.IsType<DiscopopObjective>(ConformityObjectives.Create("discopop")).Tau);
        Assert.Equal(0.2, Assert.IsType<DiscopopObjective>(ConformityObjectives.Create("discopop", tau: 0.2)).Tau);
        Assert.Equal(1e-3, Assert.IsType<ExoPairObjective>(ConformityObjectives.Create("exo_pair")).Epsilon);
        Assert.Equal(0.01, Assert.IsType<ExoPairObjective>(ConformityObjectives.Create("exo_pair", labelSmoothing: 0.01)).Epsilon);
        Assert.Equal(0.2, Assert.IsType<RobustObjective>(ConformityObjectives.Create("robust", labelSmoothing: 0.2)).LabelSmoothing);
        Assert.Equal(0.7, Assert.IsType<IpoObjective>(ConformityObjectives.Create("ipo", 0.7)).Beta);
    }

    [Fact]
    public void Unknown_name_lists_the_valid_names()
    {
        var ex = Assert.Throws<ArgumentException>(() => ConformityObjectives.Create("kto_pair"));
        Assert.Equal("name", ex.ParamName);
        Assert.Contains("kto_pair", ex.Message);
        foreach (string name in ConformityObjectives.Names) Assert.Contains(name, ex.Message);
        Assert.Throws<ArgumentNullException>(() => ConformityObjectives.Create(null!));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-0.1)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void Invalid_beta_names_beta_and_its_range(double beta)
    {
        foreach (string name in ConformityObjectives.Names)
        {
            var ex = Assert.Throws<ArgumentOutOfRangeException>(() => ConformityObjectives.Create(name, beta: beta));
            Assert.Equal("beta", ex.ParamName);
            Assert.Contains("> 0", ex.Message);
        }
    }

    [Theory]
    [InlineData("sigmoid", -0.01)]
    [InlineData("sigmoid", 0.51)]
    [InlineData("aot", 0.6)]
    [InlineData("aot_unpaired", -1.0)]
    [InlineData("simpo", 0.7)]
    [InlineData("cpo", double.NaN)]
    [InlineData("robust", 0.5)]
    [InlineData("robust", -0.1)]
    [InlineData("exo_pair", 1.0)]
    [InlineData("exo_pair", -0.2)]
    public void Invalid_label_smoothing_names_label_smoothing(string name, double eps)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => ConformityObjectives.Create(name, labelSmoothing: eps));
        Assert.Equal("labelSmoothing", ex.ParamName);
    }

    [Fact]
    public void Parameters_the_objective_would_ignore_are_rejected()
    {
        Assert.Equal("labelSmoothing", Assert.Throws<ArgumentException>(() => ConformityObjectives.Create("hinge", labelSmoothing: 0.1)).ParamName);
        Assert.Equal("gamma", Assert.Throws<ArgumentException>(() => ConformityObjectives.Create("sigmoid", gamma: 0.5)).ParamName);
        Assert.Equal("alpha", Assert.Throws<ArgumentException>(() => ConformityObjectives.Create("simpo", alpha: 1)).ParamName);
        Assert.Equal("lambda", Assert.Throws<ArgumentException>(() => ConformityObjectives.Create("cpo", lambda: 1)).ParamName);
        Assert.Equal("tau", Assert.Throws<ArgumentException>(() => ConformityObjectives.Create("ipo", tau: 1)).ParamName);
        Assert.Equal("lambda", Assert.Throws<ArgumentException>(() => ConformityObjectives.Create("orpo", beta: 0.2, lambda: 0.3)).ParamName);
    }

    [Fact]
    public void Constructors_name_the_invalid_parameter_and_its_range()
    {
        void Check(string param, string range, Action create)
        {
            var ex = Assert.Throws<ArgumentOutOfRangeException>(create);
            Assert.Equal(param, ex.ParamName);
            Assert.Contains(range, ex.Message);
        }
        Check("beta", "> 0", () => new SigmoidObjective(-1));
        Check("labelSmoothing", "[0, 0.5]", () => new SigmoidObjective(0.1, 0.6));
        Check("labelSmoothing", "[0, 0.5)", () => new RobustObjective(0.1, 0.5));
        Check("epsilon", "(0, 1)", () => new ExoPairObjective(0.1, 0));
        Check("epsilon", "(0, 1)", () => new ExoPairObjective(0.1, 1));
        Check("tau", "> 0", () => new DiscopopObjective(0.1, 0));
        Check("gamma", ">= 0", () => new SimpoObjective(2, -0.5));
        Check("alpha", ">= 0", () => new CpoObjective(0.1, double.NaN));
        Check("lambda", "> 0", () => new OrpoObjective(0));
        Check("beta", "> 0", () => new HingeObjective(double.NegativeInfinity));
        Check("beta", "> 0", () => new IpoObjective(0));
        Check("beta", "> 0", () => new AotUnpairedObjective(0));
    }
}
