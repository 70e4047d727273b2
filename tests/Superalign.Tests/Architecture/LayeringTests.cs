using NetArchTest.Rules;
using Superalign.Experiments.Protocols;
using Xunit;

namespace Superalign.Tests.Architecture;

/// <summary>
/// The layering of docs/architecture.md: the core (abstractions, data, objectives, reference policies, students,
/// supervision, optimization) never depends on the experiments (protocols, built-in tasks, metrics).
/// </summary>
public sealed class LayeringTests
{
    private const string Experiments = "Superalign.Experiments";

    /// <summary>Types outside <paramref name="experiments"/> (within <paramref name="scope"/>) that depend on it.</summary>
    internal static IReadOnlyList<string> CoreTypesDependingOnExperiments(System.Reflection.Assembly assembly, string scope, string experiments)
    {
        var result = Types.InAssembly(assembly)
            .That().ResideInNamespace(scope)
            .And().DoNotResideInNamespace(experiments)
            .ShouldNot().HaveDependencyOn(experiments)
            .GetResult();
        return result.IsSuccessful ? [] : result.FailingTypeNames?.ToList() ?? ["(unnamed types)"];
    }

    [Fact]
    public void Core_does_not_depend_on_experiments()
    {
        var offenders = CoreTypesDependingOnExperiments(typeof(IStudent).Assembly, "Superalign", Experiments);
        Assert.True(offenders.Count == 0,
            $"Core types that reference {Experiments}: {string.Join(", ", offenders)}. Move the shared piece into the core, or the type into Experiments (docs/architecture.md).");
    }

    [Fact]
    public void The_rule_catches_a_core_type_that_references_an_experiment()
    {
        // The fixture below breaks the rule on purpose: the same check must name it.
        var offenders = CoreTypesDependingOnExperiments(typeof(LayeringTests).Assembly, "Superalign.Tests.Architecture.Fixture", "Superalign.Tests.Architecture.Fixture.Experiments");
        Assert.Equal(["Superalign.Tests.Architecture.Fixture.Core.BadCoreType"], offenders);
    }

    [Fact]
    public void Every_protocol_is_in_the_catalog_and_derives_from_the_contract()
    {
        var protocols = typeof(IProtocol).Assembly.GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false } && typeof(IProtocol).IsAssignableFrom(t)).Select(t => t.Name).Order().ToList();
        var catalogued = ProtocolCatalog.All.Select(e => e.Create().GetType().Name).Order().ToList();
        Assert.Equal(protocols, catalogued);
        Assert.All(ProtocolCatalog.All, e => Assert.Equal(e.Name, e.Create().Name));
    }
}
