using Superalign.Experiments.Protocols;
using static Superalign.Cli.Reports.ReportFormat;

namespace Superalign.Cli.Reports;

/// <summary>Self-enhancement: competence, conformity, judge agreement and diversity per judge and round.</summary>
internal static class SelfEnhancementReport
{
    public static void Write(SelfEnhancementResult result, TextWriter output)
    {
        var options = result.Options;
        output.WriteLine($"self-enhancement on the value-conflict task: seeds {string.Join(",", options.Seeds)}, {result.TrainPrompts} training prompts " +
                         $"({result.Demonstrations} with a demonstration) / {result.TestPrompts} held-out per seed; {options.PromptsPerRound} sampled pairs and " +
                         $"{options.StepsPerRound} {options.ConformityLoss} updates per round");
        output.WriteLine();
        output.WriteLine($"{"judge",-8} {"round",5} {"competence (95% CI)",-24} {"conformity (95% CI)",-24} {"judge agreement",-24} {"diversity",-10}");
        foreach (var s in result.Summaries)
            output.WriteLine($"{s.Judge,-8} {s.Round,5} {Percent(s.Competence),-24} {Percent(s.Conformity),-24} {(s.JudgeAgreement is null ? "-" : Percent(s.JudgeAgreement)),-24} {s.Diversity.Mean,-10:F2}");
        var accuracy = result.Runs.Where(r => r.VerifierAccuracy is not null).Select(r => r.VerifierAccuracy!.Value).ToList();
        if (accuracy.Count > 0)
        {
            output.WriteLine();
            output.WriteLine($"verifier: {(options.Verifier ?? new()).Labels} labelled responses per seed; rank accuracy on the SFT policy's held-out responses {accuracy.Average():P1} (mean over {accuracy.Count} seeds)");
        }
    }
}
