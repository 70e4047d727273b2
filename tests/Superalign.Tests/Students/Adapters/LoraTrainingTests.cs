using Superalign.Data;
using Superalign.Objectives.Conformity;
using Superalign.Optimization;
using Superalign.Reference;
using Superalign.Students.Adapters;
using Superalign.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using static Superalign.Tests.Students.StudentTestKit;
using static TorchSharp.torch;

namespace Superalign.Tests.Students.Adapters;

/// <summary>The alternating optimizer trains a LoRA-adapted student: only the adapters move, the reference is the base.</summary>
public class LoraTrainingTests
{
    private const int N = 32, Prompt = 5;

    /// <summary>Chosen responses count up from the last prompt token; rejected ones are random.</summary>
    private static (Tensor Chosen, Tensor Rejected, Tensor Mask) Data(long seed)
    {
        using var g = new Generator((ulong)seed, CPU);
        int v = ToyAdaptableLm.Vocabulary, l = ToyAdaptableLm.Length;
        var prompt = randint(0, v, new long[] { N, Prompt }, generator: g);
        var steps = arange(1, l - Prompt + 1, dtype: ScalarType.Int64).unsqueeze(0);
        var chosen = cat(new[] { prompt, (prompt.narrow(1, Prompt - 1, 1) + steps).remainder(v) }, 1);
        var rejected = cat(new[] { prompt, randint(0, v, new long[] { N, l - Prompt }, generator: g) }, 1);
        var mask = cat(new[] { zeros(N, Prompt), ones(N, l - Prompt) }, 1);
        return (chosen, rejected, mask);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Alternating_dpo_with_lora_trains_only_the_adapters_against_the_adapter_free_base(bool fanInFanOut)
    {
        using var threads = Superalign.Runtime.TorchThreads.Use(1);
        using var student = new ToyAdaptableLm(fanInFanOut, seed: 11);
        var adapters = Lora.Apply(student, new LoraOptions { Rank = 4, Alpha = 8, TargetModules = ["q_proj", "v_proj", "c_attn"] }, seed: 12);
        var baseBefore = student.Module.named_parameters().Where(p => !p.name.Contains("lora_")).ToDictionary(p => p.name, p => p.parameter.detach().clone());
        var adaptersBefore = adapters.Parameters().Select(p => p.detach().clone()).ToList();
        var (chosen, rejected, mask) = Data(13);
        var preferences = PreferenceDataset.ForCausalLm(chosen, mask, rejected, mask);
        var supervised = SupervisedDataset.ForCausalLm(chosen, mask);

        using var reference = new AdapterDisabledReference(adapters);
        Assert.Same(student, reference.Student);
        student.SetTraining(true);
        var baseLogProbs = reference.LogProbs(preferences.Pairs);
        Assert.True(student.IsTraining, "the reference restores the training mode");
        Assert.All(student.Projections.Values, m => Assert.True(m.AdapterEnabled));
        // Right after attaching, the policy is its reference (B = 0): DPO starts at log 2.
        student.SetTraining(false);
        using (no_grad())
        {
            var (pc, pr) = LogProbs.Pair(student, preferences.Pairs);
            Identical(baseLogProbs.Chosen, pc, "policy vs reference before training (chosen)");
            Identical(baseLogProbs.Rejected, pr, "policy vs reference before training (rejected)");
        }
        Assert.False(student.IsTraining);

        var objective = ConformityObjectives.Create("sigmoid");
        var options = new AlternatingOptimizerOptions { TotalSteps = 40, LearningRate = 0.03, Schedule = AlternationSchedules.FixedRatio(1, 1) };
        IReadOnlyList<StepReport> reports;
        using (var optimizer = new AlternatingOptimizer(student, new TestCrossEntropy(), objective, options, reference))
        {
            reports = optimizer.Train(supervised.Batches(16, seed: 1), preferences.Batches(16, seed: 2));
        }
        var dpo = reports.Where(r => r.ConformityLoss is not null).Select(r => r.ConformityLoss!.Value).ToList();
        var nll = reports.Where(r => r.CompetenceLoss is not null).Select(r => r.CompetenceLoss!.Value).ToList();
        Assert.Equal(20, dpo.Count);
        Assert.Equal(20, nll.Count);
        Assert.True(dpo.TakeLast(4).Average() < dpo.Take(4).Average() - 0.1, $"DPO loss {string.Join(", ", dpo.Select(d => d.ToString("F3")))}");
        Assert.True(nll.TakeLast(4).Average() < nll.Take(4).Average() - 0.1, $"NLL {string.Join(", ", nll.Select(d => d.ToString("F3")))}");

        foreach (var (name, p) in student.Module.named_parameters().Where(p => !p.name.Contains("lora_")))
            Identical(baseBefore[name], p, $"base parameter {name} after training");
        Assert.All(adapters.Parameters().Zip(adaptersBefore), pair => Assert.False(BitwiseEqual(pair.First, pair.Second), "an adapter did not move"));

        // The reference is still the untouched base: same log-probs as before training, bit for bit, and no copy.
        var after = reference.LogProbs(preferences.Pairs);
        Identical(baseLogProbs.Chosen, after.Chosen, "reference chosen log-probs");
        Identical(baseLogProbs.Rejected, after.Rejected, "reference rejected log-probs");
        Assert.True(Lora.HasAdapters(student));
        Assert.All(student.Projections.Values, m => Assert.True(m.AdapterEnabled));
    }

    [Fact]
    public void The_adapter_free_reference_needs_adapters()
    {
        using var student = new ToyAdaptableLm(fanInFanOut: false, seed: 11);
        Assert.Throws<ArgumentException>(() => new AdapterDisabledReference(student));
    }
}
