// Types that break the layering rule on purpose, so that LayeringTests can show the rule failing.
namespace Superalign.Tests.Architecture.Fixture.Experiments
{
    internal sealed class SomeExperiment
    {
        public int Value { get; init; }
    }
}

namespace Superalign.Tests.Architecture.Fixture.Core
{
    internal sealed class GoodCoreType
    {
        public int Value { get; init; }
    }

    internal sealed class BadCoreType
    {
        public Experiments.SomeExperiment Experiment { get; } = new();
    }
}
