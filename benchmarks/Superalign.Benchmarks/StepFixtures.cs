using Superalign.Data;
using Superalign.Objectives.Competence;
using Superalign.Objectives.Conformity;
using Superalign.Optimization;
using Superalign.Students;
using Superalign.Students.Pretrained;
using TorchSharp;
using static TorchSharp.torch;

namespace Superalign.Benchmarks;

/// <summary>A student with its data and three optimizers (competence, conformity, alternating) ready to step.</summary>
public sealed class StepFixture : IDisposable
{
    private readonly Lazy<AlternatingOptimizer> _competence, _conformity, _alternating;
    private readonly IBatchSource<SupervisedBatch> _sup;
    private readonly IBatchSource<PreferenceBatch> _pref;
    private readonly Lazy<(IStudent Student, IReadOnlyList<TorchSharp.Modules.Parameter> Parameters, optim.Optimizer Adam)> _hand;
    private const double Beta = 0.1, LearningRate = 1e-4, MaxNorm = 1.0;

    // The optimizers and the hand-written loop's copy are made on first use: each holds its own parameter and AdamW
    // state, which a GPT-2-sized fixture cannot afford to hold for steps a benchmark never takes.
    private StepFixture(IStudent student, SupervisedDataset sup, PreferenceDataset pref, int supBatch, int prefBatch, bool flat,
        string competenceObjective)
    {
        Student = student;
        PreferenceDataset cached;
        if (student is TorchStudent adapted && Superalign.Students.Adapters.Lora.HasAdapters(adapted))
        {
            // With LoRA the reference is the same model with its adapters switched off (what AdapterDisabledReference
            // does): no second copy of the weights, so the process's peak memory shows what LoRA saves.
            using (Superalign.Students.Adapters.Lora.DisableAdapters(adapted))
                cached = pref.WithReferenceLogProbs(student);
        }
        else
        {
            using var reference = student.Clone();
            cached = pref.WithReferenceLogProbs(reference);
        }
        _sup = sup.Batches(supBatch, seed: 1, dropLast: true);
        _pref = cached.Batches(prefBatch, seed: 2, dropLast: true);
        var options = new AlternatingOptimizerOptions { TotalSteps = 1_000_000_000, LearningRate = LearningRate, FlatParameterBuffer = flat, LogEvery = 0, MaxGradientNorm = MaxNorm };
        var ce = CompetenceObjectives.Create(competenceObjective);
        var dpo = ConformityObjectives.Create("sigmoid", beta: Beta);
        _competence = new(() => new AlternatingOptimizer(student, ce, dpo, options with { Schedule = AlternationSchedules.CompetenceOnly() }));
        _conformity = new(() => new AlternatingOptimizer(student, ce, dpo, options with { Schedule = AlternationSchedules.ConformityOnly() }));
        _alternating = new(() => new AlternatingOptimizer(student, ce, dpo, options with { Schedule = AlternationSchedules.FixedRatio(1, 1) }));
        _hand = new(() =>
        {
            var copy = student.Clone();
            var parameters = copy.Parameters();
            return (copy, parameters, optim.AdamW(parameters, LearningRate, 0.9, 0.999, 1e-8, 0));
        });
    }

    /// <summary>The student.</summary>
    public IStudent Student { get; }

    public StepReport Competence() => _competence.Value.Step(_sup, null);

    public StepReport Conformity() => _conformity.Value.Step(null, _pref);

    public StepReport Alternating() => _alternating.Value.Step(_sup, _pref);

    /// <summary>
    /// The competence step as a user would hand-write it in TorchSharp: forward, cross-entropy (token NLL for the LM),
    /// backward, clipping, <c>torch.optim.AdamW</c>, loss read back — the same math as <see cref="Competence"/> with
    /// <c>FlatParameterBuffer = false</c>, without the optimizer's schedule, checks and metrics.
    /// </summary>
    public double HandWrittenCompetence()
    {
        using var scope = NewDisposeScope();
        var (handStudent, handParameters, handAdam) = _hand.Value;
        var batch = _sup.Next().Responses;
        handStudent.SetTraining(true);
        handAdam.zero_grad();
        var logits = handStudent.Logits(batch);
        long b = logits.shape[0], t = logits.shape[1], v = logits.shape[2];
        var nll = nn.functional.cross_entropy(logits.reshape(b * t, v), batch.Targets.reshape(b * t), reduction: nn.Reduction.None);
        var loss = (nll * batch.Mask.reshape(b * t)).sum() / batch.Mask.sum();
        loss.backward();
        nn.utils.clip_grad_norm_(handParameters, MaxNorm);
        handAdam.step();
        return loss.ToDouble();
    }

    /// <summary>The DPO step (cached reference log-probs) hand-written the same way.</summary>
    public double HandWrittenConformity()
    {
        using var scope = NewDisposeScope();
        var (handStudent, handParameters, handAdam) = _hand.Value;
        var batch = _pref.Next();
        handStudent.SetTraining(true);
        handAdam.zero_grad();
        var (pc, pr) = Superalign.LogProbs.Pair(handStudent, batch);
        var h = (pc - batch.ReferenceChosen!) - (pr - batch.ReferenceRejected!);
        var loss = -nn.functional.logsigmoid(Beta * h).mean();
        loss.backward();
        nn.utils.clip_grad_norm_(handParameters, MaxNorm);
        handAdam.step();
        return loss.ToDouble();
    }

    /// <summary>
    /// The fixture of <paramref name="model"/> (<c>mlp</c>: batch <see cref="StepCost.MlpBatch"/>; <c>lm</c>:
    /// <see cref="StepCost.LmPairs"/> pairs) at <paramref name="shape"/> (see <see cref="StepCost"/>).
    /// </summary>
    public static StepFixture For(string model, string shape, bool flat = true)
    {
        switch (model)
        {
            case "mlp":
                var (f, w, d) = StepCost.ParseMlp(shape);
                return Mlp(f, w, d, StepCost.MlpBatch, flat);
            case "lm":
                var (dim, layers, seq) = StepCost.ParseLm(shape);
                return Lm(dim, layers, seq, StepCost.LmPairs, flat);
            case "gpt2":
                var (gd, gl, gt) = StepCost.ParseLm(shape);
                return Gpt2(gd, gl, gt, StepCost.Gpt2Pairs, flat);
            case "gpt2-lora":
                // LoRA r 8, α 16 on c_attn (PEFT's GPT-2 default), as Gpt2LoraStepBenchmarks.
                var (ld, ll, lt) = StepCost.ParseLm(shape);
                return Gpt2(ld, ll, lt, StepCost.Gpt2Pairs, flat, Gpt2Lora);
            default:
                throw new ArgumentException($"Unknown model '{model}' (mlp, lm, gpt2 or gpt2-lora).", nameof(model));
        }
    }

    /// <summary>The LoRA adapters of the GPT-2 LoRA fixtures: r 8, α 16 on <c>c_attn</c> (PEFT's GPT-2 default target).</summary>
    public static Superalign.Students.Adapters.LoraOptions Gpt2Lora => new() { Rank = 8, Alpha = 16, TargetModules = ["c_attn"] };

    /// <summary>An MLP classifier with inputs <paramref name="features"/> and hidden width <paramref name="width"/> × <paramref name="depth"/>.</summary>
    public static StepFixture Mlp(int features, int width, int depth, int batch, bool flat = true)
    {
        const int classes = StepCost.MlpClasses;
        var student = new MlpClassifier(new MlpClassifierOptions(features, classes, width, depth, Seed: 1), CPU);
        var g = new Generator(7);
        int n = batch * 8;
        var x = randn(new long[] { n, features }, generator: g);
        var y = randint(classes, new long[] { n }, generator: g);
        var r = randint(classes, new long[] { n }, generator: g);
        return new StepFixture(student, SupervisedDataset.ForClassification(x, y), PreferenceDataset.ForClassification(x, y, r),
            batch, batch, flat, "ce");
    }

    /// <summary>A tiny causal LM; competence batches hold 2× <paramref name="pairs"/> sequences so both steps see the same tokens.</summary>
    public static StepFixture Lm(int dim, int layers, int seq, int pairs, bool flat = true) =>
        Lm(new TinyCausalLm(new TinyCausalLmOptions(StepCost.LmVocabulary, seq, dim, layers, Math.Max(1, dim / 32), Seed: 1), CPU),
            StepCost.LmVocabulary, seq, pairs, flat);

    /// <summary>
    /// A GPT-2-shaped pretrained-layout student with random weights (<see cref="PretrainedCausalLm.CreateRandom"/>:
    /// GPT-2's vocabulary and 1024 positions, heads of width 64, tanh GELU); <c>d768-L12-T128</c> is GPT-2 small (124 M).
    /// </summary>
    /// <param name="lora">LoRA adapters to attach before training (only they train), or null for full fine-tuning.</param>
    public static StepFixture Gpt2(int dim, int layers, int seq, int pairs, bool flat = true, Superalign.Students.Adapters.LoraOptions? lora = null)
    {
        var student = PretrainedCausalLm.CreateRandom(new Gpt2Config(StepCost.Gpt2Vocabulary, StepCost.Gpt2Positions, dim, layers, Math.Max(1, dim / 64)), seed: 1, CPU);
        if (lora is not null) Superalign.Students.Adapters.Lora.Apply(student, lora, seed: 0);
        return Lm(student, StepCost.Gpt2Vocabulary, seq, pairs, flat);
    }

    private static StepFixture Lm(IStudent student, int vocab, int seq, int pairs, bool flat)
    {
        var g = new Generator(7);
        int n = pairs * 16;
        var chosen = randint(vocab, new long[] { n, seq }, generator: g);
        var rejected = randint(vocab, new long[] { n, seq }, generator: g);
        var mask = ones(n, seq);
        mask.narrow(1, 0, seq / 4).zero_(); // the first quarter is the prompt
        return new StepFixture(student, SupervisedDataset.ForCausalLm(chosen, mask),
            PreferenceDataset.ForCausalLm(chosen, mask, rejected, mask), 2 * pairs, pairs, flat, "nll");
    }

    public void Dispose()
    {
        foreach (var optimizer in new[] { _competence, _conformity, _alternating })
            if (optimizer.IsValueCreated) optimizer.Value.Dispose();
        if (_hand.IsValueCreated)
        {
            _hand.Value.Adam.Dispose();
            _hand.Value.Student.Dispose();
        }
        Student.Dispose();
    }
}
