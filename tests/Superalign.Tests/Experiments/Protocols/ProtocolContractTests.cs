using System.Text.Json;
using Superalign.Experiments.Protocols;
using Superalign.Optimization;
using Xunit;

namespace Superalign.Tests.Experiments.Protocols;

/// <summary>The protocol contract: the catalog, and options that validate themselves and round-trip through JSON.</summary>
public sealed class ProtocolContractTests
{
    public static TheoryData<string> Names() => new(ProtocolCatalog.All.Select(e => e.Name));

    [Theory]
    [MemberData(nameof(Names))]
    public void Default_options_round_trip_through_json(string name)
    {
        var entry = ProtocolCatalog.Find(name);
        var options = entry.DefaultOptions();
        Assert.IsType(entry.OptionsType, options);
        string json = ProtocolJson.Serialize(options);
        var read = entry.ReadOptions(json);
        Assert.IsType(entry.OptionsType, read);
        Assert.Equal(json, ProtocolJson.Serialize(read));
        read.Validate();
        Assert.Equal(name, entry.Create(read).Name);
    }

    [Fact]
    public void Changed_options_read_back_with_their_values()
    {
        var entry = ProtocolCatalog.Find(WeakToStrong.ProtocolName);
        var options = new WeakToStrongOptions { Seeds = [4, 7], CompetenceLoss = "logconf", Ensemble = true, Device = "cpu", ConfidenceLevel = 0.9 };
        var read = (WeakToStrongOptions)entry.ReadOptions(ProtocolJson.Serialize(options));
        Assert.Equal([4, 7], read.Seeds);
        Assert.Equal("logconf", read.CompetenceLoss);
        Assert.True(read.Ensemble);
        Assert.Equal("cpu", read.Device);
        Assert.Equal(0.9, read.ConfidenceLevel);
        Assert.Equal(options.StrongTrunks, read.StrongTrunks);
    }

    [Fact]
    public void The_own_data_options_read_back_with_their_values()
    {
        var w2s = new WeakToStrongOptions
        {
            CompetenceLoss = "logconf",
            CompetenceOptions = new CompetenceObjectiveOptions { Alpha = 0.75, WarmupFraction = 0.1, Hardening = Superalign.Objectives.Competence.Hardening.MatchWeakMarginals },
            StandardizeFeatures = true,
            WeakTraining = new TrainingSettings { Steps = 100, LearningRate = 1e-3 },
            StudentTraining = new TrainingSettings { Epochs = 2.5, BatchSize = 32 },
            CeilingTraining = new TrainingSettings { BatchSize = 8 },
        };
        var read = (WeakToStrongOptions)ProtocolCatalog.Find(WeakToStrong.ProtocolName).ReadOptions(ProtocolJson.Serialize(w2s));
        Assert.Equal((w2s.CompetenceOptions, w2s.WeakTraining, w2s.StudentTraining, w2s.CeilingTraining, true),
            (read.CompetenceOptions, read.WeakTraining, read.StudentTraining, read.CeilingTraining, read.StandardizeFeatures));
        read.Validate();

        var co = new CoOptimizationOptions { SftData = "data/sft.jsonl", PreferenceData = "data/pref.jsonl", HeldOutFraction = 0.3, CompetenceMetric = CompletionMetric.TokenProbability };
        var coRead = (CoOptimizationOptions)ProtocolCatalog.Find(CoOptimizationComparison.ProtocolName).ReadOptions(ProtocolJson.Serialize(co));
        Assert.Equal((co.SftData, co.PreferenceData, 0.3, CompletionMetric.TokenProbability), (coRead.SftData, coRead.PreferenceData, coRead.HeldOutFraction, coRead.CompetenceMetric));

        var se = new SelfEnhancementOptions { SftData = "a.jsonl", PreferenceData = "b.jsonl", HeldOutFraction = 0.1, CompetenceMetric = CompletionMetric.TokenProbability, Judges = [FeedbackJudge.Peer] };
        var seRead = (SelfEnhancementOptions)ProtocolCatalog.Find(SelfEnhancement.ProtocolName).ReadOptions(ProtocolJson.Serialize(se));
        Assert.Equal((se.SftData, se.PreferenceData, 0.1, CompletionMetric.TokenProbability), (seRead.SftData, seRead.PreferenceData, seRead.HeldOutFraction, seRead.CompetenceMetric));
        Assert.Contains("\"competenceMetric\": \"tokenProbability\"", ProtocolJson.Serialize(se));
    }

    [Fact]
    public void Every_built_in_schedule_candidate_reads_back_the_same_plans_modes_and_searches()
    {
        var candidates = ScheduleCandidate.Defaults().Concat(ScheduleCandidate.ConflictAware())
            .Append(new ScheduleCandidate("cosine-weights", AlternationSchedules.AnnealedWeights(1, 0.5, 0.25, 2, Interpolation.Cosine)))
            .Append(new ScheduleCandidate("cosine-ratio", AlternationSchedules.AnnealedRatio(0.1, 0.7, Interpolation.Cosine)))
            .DistinctBy(c => c.Name).ToList();
        var options = new CoOptimizationOptions { Schedules = candidates, ProbePrompts = 16 };
        var read = (CoOptimizationOptions)ProtocolCatalog.Find(CoOptimizationComparison.ProtocolName).ReadOptions(ProtocolJson.Serialize(options));
        Assert.Equal(candidates.Count, read.Schedules.Count);
        for (int i = 0; i < candidates.Count; i++)
        {
            var (a, b) = (candidates[i], read.Schedules[i]);
            Assert.Equal(a.Name, b.Name);
            Assert.Equal(a.ConflictMode, b.ConflictMode);
            Assert.Equal(a.Description, b.Description);
            for (long step = 0; step < 200; step++) Assert.Equal(a.Schedule.Plan(step, 200), b.Schedule.Plan(step, 200));
            Assert.Equal(a.Search is null, b.Search is null);
            if (a.Search is { } s)
            {
                Assert.Equal(s.Candidates, b.Search!.Candidates);
                Assert.Equal((s.Every, s.Choice, s.ProbeBatches, s.CompetencePreference, s.ConformityPreference),
                    (b.Search.Every, b.Search.Choice, b.Search.ProbeBatches, b.Search.CompetencePreference, b.Search.ConformityPreference));
            }
        }
        read.Validate();
    }

    [Fact]
    public void A_schedule_of_your_own_is_written_but_not_read_back_and_a_bad_kind_names_the_known_ones()
    {
        var options = new CoOptimizationOptions { Schedules = [new ScheduleCandidate("mine", new EveryThirdConformity())] };
        string mine = ProtocolJson.Serialize(options);
        Assert.Contains("\"custom\"", mine);
        Assert.Contains("EveryThirdConformity", Assert.Throws<JsonException>(() => ProtocolCatalog.Find("co-optimization").ReadOptions(mine)).Message);
        string json = ProtocolJson.Serialize(new CoOptimizationOptions()).Replace("\"fixed-ratio\"", "\"zigzag\"");
        var error = Assert.Throws<JsonException>(() => ProtocolCatalog.Find("co-optimization").ReadOptions(json));
        Assert.Contains("zigzag", error.Message);
        Assert.Contains("fixed-ratio", error.Message);
    }

    [Fact]
    public void Find_is_case_insensitive_and_an_unknown_name_lists_the_protocols()
    {
        Assert.Equal(Sandwiching.ProtocolName, ProtocolCatalog.Find("  SANDWICHING ").Name);
        var error = Assert.Throws<ArgumentException>(() => ProtocolCatalog.Find("nope"));
        foreach (var entry in ProtocolCatalog.All) Assert.Contains(entry.Name, error.Message);
    }

    [Fact]
    public void Options_are_validated_when_a_protocol_is_made_from_the_catalog()
    {
        var entry = ProtocolCatalog.Find(SelfEnhancement.ProtocolName);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => entry.Create(new SelfEnhancementOptions { Device = " " }));
        Assert.Equal("Device", error.ParamName);
        Assert.Throws<ArgumentException>(() => entry.Create(new SandwichingOptions()));
    }

    private sealed class EveryThirdConformity : IAlternationSchedule
    {
        public PhasePlan Plan(long step, long totalSteps) =>
            step % 3 == 2 ? new PhasePlan(TrainingPhase.Conformity, 0, 1) : new PhasePlan(TrainingPhase.Competence, 1, 0);
    }
}
