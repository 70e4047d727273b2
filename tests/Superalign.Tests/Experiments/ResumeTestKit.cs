using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Superalign.Experiments.Protocols;
using Superalign.Experiments.Tasks;
using Superalign.Optimization;

namespace Superalign.Tests.Experiments;

/// <summary>Tiny options of every catalog protocol (two seeds each) and helpers to compare results apart from timings.</summary>
public static class ResumeTestKit
{
    /// <summary>Options small enough for a few seconds per run on one thread, with two seeds.</summary>
    public static IProtocolOptions TinyOptions(string protocol) => protocol switch
    {
        WeakToStrong.ProtocolName => new WeakToStrongOptions
        {
            // Large enough that the ceiling beats the weak model, so that every row has a bootstrap interval of its own stream.
            Task = new RepresentationTaskOptions { PretrainSteps = 300 },
            WeakTrunks = [new TrunkSpec(8, 1)],
            StrongTrunks = [new TrunkSpec(32, 2)],
            TrainSize = 600, TestSize = 300, Seeds = [0, 1], Steps = 60, BootstrapResamples = 50, Device = "cpu",
        },
        CoOptimizationComparison.ProtocolName => new CoOptimizationOptions
        {
            Seeds = [3, 4],
            Schedules = ScheduleCandidate.Defaults().Where(s => s.Name is "sequential" or "alternating").ToList(),
            ModelDim = 16, Layers = 1, Heads = 2, PretrainSteps = 10, BatchBudget = 8, Checkpoints = 1, BatchSize = 16, Device = "cpu",
        },
        AlignmentTax.ProtocolName => new AlignmentTaxOptions
        {
            Seeds = [3, 4],
            Arms = AlignmentArm.Defaults().Where(a => a.Name is "sft→orpo" or "alternating-1:1/model-answers").ToList(),
            ModelDim = 16, Layers = 1, Heads = 2, PretrainSteps = 10, BatchBudget = 8, CheckpointsPerStage = 1, BatchSize = 16,
            HeldOutTrigger = 14, HeldOutOperandsFrom = 27, Device = "cpu",
        },
        SelfEnhancement.ProtocolName => new SelfEnhancementOptions
        {
            Seeds = [5, 6],
            Judges = [FeedbackJudge.Oracle, FeedbackJudge.Self, FeedbackJudge.Verifier],
            Verifier = new VerifierOptions(Labels: 32, HiddenWidth: 16, Steps: 10),
            ModelDim = 16, Layers = 1, Heads = 2, SftSteps = 10, Rounds = 1, PromptsPerRound = 16, StepsPerRound = 2, BatchSize = 8,
            DiversityPrompts = 4, DiversitySamples = 2, Device = "cpu",
        },
        Sandwiching.ProtocolName => new SandwichingOptions
        {
            Seeds = [1, 2], TrainSize = 300, TestSize = 100, JudgeSteps = 30, ExpertSteps = 30, BatchSize = 64, BootstrapResamples = 50, Device = "cpu",
        },
        GapAnnealing.ProtocolName => new GapAnnealingOptions
        {
            Task = new RepresentationTaskOptions { PretrainSteps = 100 },
            Ladder = [new(8, 1), new(16, 1), new(32, 2)],
            TrainSize = 200, ProbeSize = 100, TestSize = 100, Seeds = [0, 1], StepsPerRound = 20, BootstrapResamples = 50, Device = "cpu",
        },
        DiversifiedSupervision.ProtocolName => new DiversifiedSupervisionOptions
        {
            Task = new RepresentationTaskOptions { PretrainSteps = 100 },
            Members = [new(16, 1), new(8, 1)],
            Student = new(32, 2),
            TrainSize = 200, TestSize = 100, Seeds = [0, 1], Steps = 20, Device = "cpu",
        },
        _ => throw new ArgumentException($"No tiny options for '{protocol}'.", nameof(protocol)),
    };

    /// <summary>
    /// The result as JSON without its timings: every property whose name holds "seconds" or "costratio" is dropped, as
    /// tests/tools/compare-results.py does.
    /// </summary>
    public static string WithoutTimings(IProtocolResult result) =>
        Strip(JsonNode.Parse(ProtocolJson.Serialize((object)result))!, key => key.Contains("seconds", StringComparison.OrdinalIgnoreCase)
            || key.Contains("costratio", StringComparison.OrdinalIgnoreCase)).ToJsonString();

    /// <summary>The result as JSON without the timings a run measures afresh even when every unit is read back: the run's wall time and trunk pretraining times.</summary>
    public static string WithoutRunTimings(IProtocolResult result)
    {
        var node = JsonNode.Parse(ProtocolJson.Serialize((object)result))!.AsObject();
        node.Remove("wallSeconds");
        return Strip(node, key => key == "pretrainSeconds").ToJsonString();
    }

    private static JsonNode Strip(JsonNode node, Func<string, bool> drop)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var key in o.Select(p => p.Key).Where(drop).ToList()) o.Remove(key);
                foreach (var (_, value) in o) if (value is not null) Strip(value, drop);
                break;
            case JsonArray a:
                foreach (var item in a) if (item is not null) Strip(item, drop);
                break;
        }
        return node;
    }

    /// <summary>A temporary directory, deleted on dispose.</summary>
    public sealed class TempDirectory : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("superalign-resume-").FullName;

        public void Dispose()
        {
            try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>Records every log line (level and text).</summary>
    public sealed class RecordingLoggerFactory : ILoggerFactory
    {
        public List<(LogLevel Level, string Message)> Lines { get; } = [];

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void AddProvider(ILoggerProvider provider) { }

        public void Dispose() { }

        private sealed class Logger(RecordingLoggerFactory owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                lock (owner.Lines) owner.Lines.Add((logLevel, formatter(state, exception)));
            }
        }
    }
}
