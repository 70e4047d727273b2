using Microsoft.Extensions.Logging.Abstractions;
using Superalign.Experiments.Metrics;
using static TorchSharp.torch;

namespace Superalign.Experiments.Protocols;

/// <summary>One seed's accuracies on its held-out examples.</summary>
/// <param name="Seed">The seed.</param>
/// <param name="NoHelpAccuracy">The judge alone, seeing <c>k</c> random features.</param>
/// <param name="ConsultancyAccuracy">The judge after one consultant (honest for about half of the examples).</param>
/// <param name="DebateAccuracy">The judge after a debate.</param>
/// <param name="ExpertAccuracy">The strong model, seeing every feature (the ceiling the sandwich aims for).</param>
/// <param name="HonestConsultantAccuracy">Consultancy, on the examples whose consultant argued for the true class (NaN if none).</param>
/// <param name="DishonestConsultantAccuracy">Consultancy, on the examples whose consultant argued for a wrong class (NaN if none).</param>
/// <param name="DebateAgreesWithExpert">Fraction of debates the judge decided for the strong model's answer.</param>
/// <param name="WallSeconds">Wall time of the seed.</param>
public sealed record SandwichingSeedResult(
    int Seed,
    double NoHelpAccuracy,
    double ConsultancyAccuracy,
    double DebateAccuracy,
    double ExpertAccuracy,
    double HonestConsultantAccuracy,
    double DishonestConsultantAccuracy,
    double DebateAgreesWithExpert,
    double WallSeconds);

/// <summary>What a <see cref="Sandwiching"/> run found.</summary>
/// <param name="Options">The options of the run.</param>
/// <param name="SeedResults">One row per seed, in the order of <see cref="SandwichingOptions.Seeds"/>.</param>
/// <param name="NoHelp">Judge accuracy without help, over seeds (t interval).</param>
/// <param name="Consultancy">Judge accuracy with one consultant, over seeds.</param>
/// <param name="Debate">Judge accuracy after debate, over seeds.</param>
/// <param name="Expert">Expert accuracy, over seeds.</param>
/// <param name="DebateMinusNoHelp">Paired bootstrap interval of debate − no-help accuracy on the pooled test examples of all seeds.</param>
/// <param name="DebateMinusConsultancy">Paired bootstrap interval of debate − consultancy accuracy on the pooled test examples.</param>
/// <param name="TrainExamples">Training examples per seed.</param>
/// <param name="TestExamples">Test examples per seed.</param>
/// <param name="PooledTestExamples">Test examples over all seeds (the bootstrap's sample size).</param>
/// <param name="Seeds">The seeds.</param>
/// <param name="WallSeconds">Wall time of the whole run.</param>
public sealed record SandwichingResult(
    SandwichingOptions Options,
    IReadOnlyList<SandwichingSeedResult> SeedResults,
    SummaryStatistics NoHelp,
    SummaryStatistics Consultancy,
    SummaryStatistics Debate,
    SummaryStatistics Expert,
    BootstrapInterval DebateMinusNoHelp,
    BootstrapInterval DebateMinusConsultancy,
    int TrainExamples,
    int TestExamples,
    int PooledTestExamples,
    IReadOnlyList<int> Seeds,
    double WallSeconds) : IProtocolResult
{
    /// <summary>The conditions in reporting order, with their summaries: no help, consultancy, debate, expert.</summary>
    public IReadOnlyList<(string Condition, SummaryStatistics Accuracy)> Conditions() =>
    [
        ("judge, no help", NoHelp),
        ("judge + consultant", Consultancy),
        ("judge + debate", Debate),
        ("expert (all features)", Expert),
    ];
}
