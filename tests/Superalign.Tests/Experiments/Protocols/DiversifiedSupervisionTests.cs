using Superalign.Data;
using Superalign.Objectives.Competence;
using Superalign.Experiments.Protocols;
using Superalign.Experiments.Tasks;
using Superalign.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Superalign.Tests.Experiments.Protocols;

public sealed class DiversifiedSupervisionTests
{
    /// <summary>A small run for the mechanics: two members, a mid-size student, hundreds of examples.</summary>
    private static readonly DiversifiedSupervisionOptions Quick = new()
    {
        Task = new RepresentationTaskOptions { PretrainSteps = 300 },
        Members = [new(16, 1), new(8, 1)],
        Student = new(32, 2),
        TrainSize = 600,
        TestSize = 500,
        Seeds = [0, 1],
        Steps = 60,
    };

    private static DiversifiedSupervisionResult Run(DiversifiedSupervisionOptions options)
    {
        using var threads = TorchThreads.Single();
        return new DiversifiedSupervision(options).Run();
    }

    [Fact]
    public void A_small_run_finishes_in_seconds_with_one_student_per_variant_and_supervisor()
    {
        var result = Run(Quick);

        Assert.True(result.WallSeconds < 30, $"took {result.WallSeconds:F1} s");
        Assert.Equal(new[] { "w16-d1", "w8-d1", "w32-d2" }, result.Trunks.Select(t => t.Spec.Name));
        var plan = new[]
        {
            (DiversityVariant.Single, "w16-d1"), (DiversityVariant.Single, "w8-d1"), (DiversityVariant.Ensemble, "ensemble"),
            (DiversityVariant.AgreementWeighted, "ensemble"), (DiversityVariant.Curriculum, "w16-d1"), (DiversityVariant.EnsembleCurriculum, "ensemble"),
        };
        Assert.Equal(plan.Concat(plan), result.Rows.Select(r => (r.Variant, r.Supervisor)));
        Assert.Equal(plan, result.Variants.Select(v => (v.Variant, v.Supervisor)));

        foreach (var seed in result.PerSeed)
        {
            var rows = result.Rows.Where(r => r.Seed == seed.Seed).ToList();
            Assert.Equal(2, seed.MemberAccuracies.Count);
            Assert.InRange(seed.MeanAgreementWeight, 0.5, 1.0);
            Assert.InRange(seed.UnanimousFraction, 0.0, 1.0);
            // The PGR reference is member 0 for every variant; the own-supervisor PGR uses the labels trained on.
            foreach (var r in rows)
            {
                double supervisor = r.SupervisorMember is int m ? seed.MemberAccuracies[m] : seed.EnsembleAccuracy;
                Assert.Equal(supervisor, r.SupervisorAccuracy);
                Assert.Equal(seed.CeilingAccuracy, r.CeilingAccuracy);
                if (r.CeilingAccuracy > seed.MemberAccuracies[0])
                    Assert.Equal((r.StudentAccuracy - seed.MemberAccuracies[0]) / (r.CeilingAccuracy - seed.MemberAccuracies[0]), r.Pgr, 12);
                Assert.Equal(new[] { "w16-d1", "w8-d1" }, r.Members.Select(c => c.Member));
                Assert.All(r.Members, (c, k) =>
                {
                    Assert.Equal(500, c.Errors.Examples);
                    Assert.Equal((int)Math.Round((1 - seed.MemberAccuracies[k]) * 500), c.Errors.WeakErrors);
                    Assert.Equal(c.Errors.WeakErrors, c.Errors.Copied + c.Errors.Corrected + c.Errors.OtherErrors);
                });
                Assert.Equal(r.Members.Max(c => c.CopiedFraction), r.MaxCopiedFraction);
                Assert.Equal(r.Variant == DiversityVariant.AgreementWeighted ? seed.MeanAgreementWeight : null, r.MeanWeight);
            }
            // A student copies more of the errors of the member it was trained on than the ceiling does.
            foreach (var (m, member) in new[] { (0, "w16-d1"), (1, "w8-d1") })
            {
                var own = rows.Single(r => r.Variant == DiversityVariant.Single && r.Supervisor == member);
                Assert.True(own.Members[m].CopiedFraction > seed.CeilingCopies[m].CopiedFraction,
                    $"seed {seed.Seed}, {member}: student copies {own.Members[m].CopiedFraction:P1}, ceiling {seed.CeilingCopies[m].CopiedFraction:P1}");
            }
        }

        // The paired summaries: against the student of each member alone, none for that student itself.
        var single0 = result.Variants[0];
        Assert.Null(single0.AccuracyVsSingle);
        Assert.Null(single0.Members[0].VersusOwnStudent);
        Assert.NotNull(single0.Members[1].VersusOwnStudent);
        var ensemble = result.Variants[2];
        var expected = result.Rows.Where(r => r.Variant == DiversityVariant.Ensemble)
            .Select(r => r.Members[1].CopiedFraction - result.Rows.Single(s => s.Seed == r.Seed && s.Variant == DiversityVariant.Single && s.Supervisor == "w8-d1").Members[1].CopiedFraction)
            .Average();
        Assert.Equal(expected, ensemble.Members[1].VersusOwnStudent!.Mean, 12);
        var accuracy = result.Rows.Where(r => r.Variant == DiversityVariant.Ensemble)
            .Select(r => r.StudentAccuracy - result.Rows.Single(s => s.Seed == r.Seed && s.Variant == DiversityVariant.Single && s.Supervisor == "w16-d1").StudentAccuracy)
            .Average();
        Assert.Equal(accuracy, ensemble.AccuracyVsSingle!.Mean, 12);
        Assert.Equal(2, result.CeilingCopies.Count);
    }

    [Fact]
    public void The_result_round_trips_through_json()
    {
        var result = Run(Quick with { Seeds = [2], Variants = [DiversityVariant.Ensemble, DiversityVariant.AgreementWeighted], CurriculumPacing = CurriculumPacing.Partitioned });
        var path = Path.Combine(Directory.CreateTempSubdirectory("superalign-diversity-").FullName, "out", "result.json");
        try
        {
            ProtocolJson.Write(result, path);
            string json = File.ReadAllText(path);
            var back = ProtocolJson.Deserialize<DiversifiedSupervisionResult>(json);

            Assert.Equal(json, ProtocolJson.Serialize(back));
            Assert.Equal(new[] { DiversityVariant.Ensemble, DiversityVariant.AgreementWeighted }, back.Options.Variants);
            Assert.Equal(CurriculumPacing.Partitioned, back.Options.CurriculumPacing);
            Assert.Equal(result.Rows[1].StudentAccuracy, back.Rows[1].StudentAccuracy);
            Assert.Equal(result.Rows[1].Members, back.Rows[1].Members);
            Assert.Equal(result.PerSeed[0].Disagreement, back.PerSeed[0].Disagreement);
            Assert.Null(back.Variants[0].AccuracyVsSingle); // Single was not run: no baseline
            Assert.Contains("\"variant\": \"agreementWeighted\"", json);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(Path.GetDirectoryName(path))!, recursive: true);
        }
    }

    public static TheoryData<DiversifiedSupervisionOptions, string> InvalidOptions => new()
    {
        { new() { Members = [new(8, 1)] }, nameof(DiversifiedSupervisionOptions.Members) },
        { new() { Members = [new(8, 1), new(8, 1)] }, nameof(DiversifiedSupervisionOptions.Members) },
        { new() { Members = [new(8, 1), new(0, 1)] }, nameof(DiversifiedSupervisionOptions.Members) },
        { new() { Student = new(64, 0) }, nameof(DiversifiedSupervisionOptions.Student) },
        { new() { Variants = [] }, nameof(DiversifiedSupervisionOptions.Variants) },
        { new() { Variants = [DiversityVariant.Single, DiversityVariant.Single] }, nameof(DiversifiedSupervisionOptions.Variants) },
        { new() { Variants = [(DiversityVariant)11] }, nameof(DiversifiedSupervisionOptions.Variants) },
        { new() { TrainSize = 2 }, nameof(DiversifiedSupervisionOptions.TrainSize) },
        { new() { TestSize = 0 }, nameof(DiversifiedSupervisionOptions.TestSize) },
        { new() { Seeds = [] }, nameof(DiversifiedSupervisionOptions.Seeds) },
        { new() { CompetenceLoss = "nope" }, nameof(DiversifiedSupervisionOptions.CompetenceLoss) },
        { new() { Steps = 0 }, nameof(DiversifiedSupervisionOptions.Steps) },
        { new() { LearningRate = double.NaN }, nameof(DiversifiedSupervisionOptions.LearningRate) },
        { new() { BatchSize = -1 }, nameof(DiversifiedSupervisionOptions.BatchSize) },
        { new() { CurriculumStages = 0 }, nameof(DiversifiedSupervisionOptions.CurriculumStages) },
        { new() { TrainSize = 10, CurriculumStages = 6 }, nameof(DiversifiedSupervisionOptions.CurriculumStages) },
        { new() { CurriculumPacing = (CurriculumPacing)5 }, nameof(DiversifiedSupervisionOptions.CurriculumPacing) },
        { new() { ConfidenceLevel = 1.5 }, nameof(DiversifiedSupervisionOptions.ConfidenceLevel) },
        { new() { Device = " " }, nameof(DiversifiedSupervisionOptions.Device) },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void Invalid_options_throw_at_construction_naming_the_option(DiversifiedSupervisionOptions options, string option)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new DiversifiedSupervision(options));
        Assert.Equal(option, error.ParamName);
        Assert.Contains(option, error.Message);
    }

    [Fact]
    public void The_defaults_are_diverse_members_of_different_sizes_and_seeds_and_all_variants()
    {
        var protocol = new DiversifiedSupervision();
        Assert.Equal(new[] { "w16-d1", "w16-d1-s1", "w8-d1" }, protocol.Options.Members.Select(m => m.Name));
        Assert.Equal(Enum.GetValues<DiversityVariant>(), protocol.Options.Variants);
        Assert.Equal(new TrunkSpec(128, 4), protocol.Options.Student);
        // Single trains one student per member; the curriculum uses member 0.
        Assert.Equal(
            new (DiversityVariant, int?)[]
            {
                (DiversityVariant.Single, 0), (DiversityVariant.Single, 1), (DiversityVariant.Single, 2), (DiversityVariant.Ensemble, null),
                (DiversityVariant.AgreementWeighted, null), (DiversityVariant.Curriculum, 0), (DiversityVariant.EnsembleCurriculum, null),
            },
            protocol.Plan());
    }

    // ---- The agreement-weighted loss: ExampleWeightedObjective, checked against a hand computation ----

    private static readonly double[][] Logits = [[2.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 1.0, 1.0]];
    private static readonly double[][] Soft = [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.3, 0.5]];
    private static readonly double[] Weights = [1.0, 0.5, 0.0];

    private static double LogSoftmax(double[] z, int c) => z[c] - Math.Log(z.Sum(Math.Exp));

    private static CompetenceInput Input(double[][] soft, Tensor? logits = null) => new(
        logits ?? tensor(Logits.SelectMany(r => r).ToArray(), dtype: ScalarType.Float64).reshape(3, 1, 3),
        tensor(new long[] { 0, 1, 2 }).reshape(3, 1),
        ones(3, 1, dtype: ScalarType.Float64),
        tensor(soft.SelectMany(r => r).ToArray(), dtype: ScalarType.Float64).reshape(3, 3),
        new TrainingProgress(0, 10));

    [Fact]
    public void The_weighted_loss_is_the_weighted_mean_of_the_per_example_soft_cross_entropies()
    {
        using var scope = NewDisposeScope();
        var carried = ExampleWeightedObjective.Attach(tensor(Soft.SelectMany(r => r).ToArray(), dtype: ScalarType.Float64).reshape(3, 3),
            tensor(Weights, dtype: ScalarType.Float64));
        var rows = Enumerable.Range(0, 3).Select(i => Enumerable.Range(0, 3).Select(c => carried[i, c].ToDouble()).ToArray()).ToArray();
        // The weights travel as row sums.
        Assert.Equal(Weights, rows.Select(r => Math.Round(r.Sum(), 12)));

        var objective = new ExampleWeightedObjective(CompetenceObjectives.Create("xent"));
        double loss = objective.Loss(Input(rows)).ToDouble();

        // By hand: xent_i = −Σ_c y_ic log softmax(z_i)_c, then Σ w_i xent_i / Σ w_i.
        double[] xent = Enumerable.Range(0, 3).Select(i => -Enumerable.Range(0, 3).Sum(c => Soft[i][c] * LogSoftmax(Logits[i], c))).ToArray();
        double expected = (1.0 * xent[0] + 0.5 * xent[1] + 0.0 * xent[2]) / 1.5;
        Assert.Equal(expected, loss, 12);
        Assert.Equal("weighted-xent", objective.Name);
        // Unweighted would be the plain mean, which differs.
        Assert.NotEqual(xent.Average(), loss, 3);
    }

    [Fact]
    public void The_weighted_loss_works_for_hard_label_objectives_and_gives_weight_zero_examples_no_gradient()
    {
        using var scope = NewDisposeScope();
        var carried = Soft.Select((r, i) => r.Select(v => v * Weights[i]).ToArray()).ToArray();
        var logits = tensor(Logits.SelectMany(r => r).ToArray(), dtype: ScalarType.Float64).reshape(3, 1, 3).requires_grad_(true);
        double loss = new ExampleWeightedObjective(CompetenceObjectives.Create("ce")).Loss(Input(carried, logits)).ToDouble();

        // Hard targets 0, 1, 2 with weights 1, 0.5, 0.
        double expected = (-LogSoftmax(Logits[0], 0) - 0.5 * LogSoftmax(Logits[1], 1)) / 1.5;
        Assert.Equal(expected, loss, 12);

        var xentLoss = new ExampleWeightedObjective(CompetenceObjectives.Create("xent")).Loss(Input(carried, logits));
        xentLoss.backward();
        var grad = logits.grad!;
        Assert.Equal(0.0, grad[2].abs().sum().ToDouble(), 15);
        Assert.True(grad[0].abs().sum().ToDouble() > 0);
        // The gradient of example 1 is half that of an unweighted example with the same labels, relative to the total weight.
        double[] p1 = Logits[1].Select(z => Math.Exp(z) / Logits[1].Sum(Math.Exp)).ToArray();
        for (int c = 0; c < 3; c++) Assert.Equal(0.5 * (p1[c] - Soft[1][c]) / 1.5, grad[1, 0, c].ToDouble(), 12);
    }

    [Fact]
    public void Labels_without_weights_give_the_inner_objectives_loss_and_bad_weights_are_refused()
    {
        using var scope = NewDisposeScope();
        // At the end of training, where logconf's hardening is fully on.
        var input = Input(Soft) with { Progress = new TrainingProgress(10, 10) };
        Assert.Equal(CompetenceObjectives.Create("logconf").Loss(input).ToDouble(),
            new ExampleWeightedObjective(CompetenceObjectives.Create("logconf")).Loss(input).ToDouble(), 12);

        var labels = tensor(Soft.SelectMany(r => r).ToArray()).reshape(3, 3);
        var error = Assert.Throws<ArgumentException>(() => ExampleWeightedObjective.Attach(labels, tensor(new[] { 1f, -0.5f, 1f })));
        Assert.Equal("weights", error.ParamName);
        Assert.Throws<ArgumentException>(() => ExampleWeightedObjective.Attach(labels, tensor(new[] { 1f, float.NaN, 1f })));
        Assert.Throws<ArgumentException>(() => ExampleWeightedObjective.Attach(labels, tensor(new[] { 1f, 1f })));
        Assert.Throws<ArgumentException>(() => new ExampleWeightedObjective(CompetenceObjectives.Create("xent")).Loss(Input(Soft) with { SoftTargets = null }));

        var (back, weights) = ExampleWeightedObjective.Split(ExampleWeightedObjective.Attach(labels, tensor(new[] { 0.25f, 0f, 1f })));
        TorchAssert.Close(tensor(new[] { 0.25f, 0f, 1f }), weights, 1e-6);
        TorchAssert.Close(labels[0], back[0], 1e-6);
        TorchAssert.Close(full(3, 1f / 3), back[1], 1e-6); // weight 0: uniform, never trained on
    }

    [Fact]
    public void Curriculum_batches_from_a_dataset_follow_the_stages_exactly()
    {
        using var scope = NewDisposeScope();
        // Six examples whose single feature is their index, so a batch reveals which rows it holds.
        var features = arange(6, dtype: ScalarType.Float32).reshape(6, 1);
        var dataset = SupervisedDataset.ForClassification(features, zeros(6, dtype: ScalarType.Int64));
        double[] confidence = [0.9, 0.4, 0.7, 0.5, 0.95, 0.6]; // order: 4, 0, 2, 5, 3, 1

        int[] Rows(SupervisedBatch b) => b.Responses.Inputs.reshape(-1).to_type(ScalarType.Int32).data<int>().ToArray();

        var partitioned = dataset.CurriculumBatches(confidence, batchSize: 2, totalBatches: 6, stages: 3, CurriculumPacing.Partitioned, seed: 5);
        var batches = Enumerable.Range(0, 6).Select(_ => Rows(partitioned.Next()).Order().ToArray()).ToArray();
        Assert.Equal(new[] { new[] { 0, 4 }, [0, 4], [2, 5], [2, 5], [1, 3], [1, 3] }, batches);
        // After the planned batches it stays in the last stage.
        Assert.Equal(new[] { 1, 3 }, Rows(partitioned.Next()).Order());

        var cumulative = dataset.CurriculumBatches(confidence, batchSize: 2, totalBatches: 6, stages: 3, CurriculumPacing.Cumulative, seed: 5);
        var c = Enumerable.Range(0, 6).Select(_ => Rows(cumulative.Next())).ToArray();
        Assert.Equal(new[] { 0, 4 }, c[0].Order());
        Assert.Equal(new[] { 0, 4 }, c[1].Order());
        // Stage 2 sees the four most confident, one shuffled epoch in two batches.
        Assert.Equal(new[] { 0, 2, 4, 5 }, c[2].Concat(c[3]).Order());
        Assert.All(c[4].Concat(c[5]), i => Assert.InRange(i, 0, 5));
        Assert.Equal(4, c[4].Concat(c[5]).Distinct().Count());

        Assert.Throws<ArgumentException>(() => dataset.CurriculumBatches([0.5, 0.5], 2, 6));
    }
}
