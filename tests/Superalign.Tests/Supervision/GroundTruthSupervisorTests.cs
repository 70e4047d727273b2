using Superalign.Supervision;
using Superalign.Tests.Infrastructure;
using Xunit;
using static Superalign.Tests.Supervision.SupervisionTestKit;
using static TorchSharp.torch;

namespace Superalign.Tests.Supervision;

public sealed class GroundTruthSupervisorTests
{
    [Fact]
    public void Labels_are_one_hot_of_the_rule()
    {
        using var scope = NewDisposeScope();
        var oracle = new GroundTruthSupervisor(3, SignRule);
        var x = tensor(new float[] { -1, -1, 1, -1, -1, 2, 3, 4 }, new long[] { 4, 2 });

        var soft = LeavesOnly(1, () => oracle.Label(x));

        Assert.Equal(ScalarType.Float32, soft.dtype);
        TorchAssert.Close(tensor(new float[] { 1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1 }, new long[] { 4, 3 }), soft, 0, what: "one-hot");
        Assert.Equal(new long[] { 0, 1, 1, 2 }, Longs(oracle.Labels(x)));
        Assert.False(soft.requires_grad);
    }

    [Fact]
    public void Dataset_oracle_looks_rows_up_by_value()
    {
        using var scope = NewDisposeScope();
        var features = tensor(new float[] { 0, 1, 2, 3, 4, 5, -0f, 7 }, new long[] { 4, 2 });
        var labels = tensor(new long[] { 2, 0, 1, 1 });
        var oracle = GroundTruthSupervisor.FromDataset(features, labels, classes: 3);

        // Rows in another order, float64, and +0 where the dataset stored −0.
        var query = tensor(new double[] { 0, 7, 4, 5, 0, 1 }, new long[] { 3, 2 }, ScalarType.Float64);
        var soft = LeavesOnly(1, () => oracle.Label(query));

        Assert.Equal(new long[] { 1, 1, 2 }, Longs(soft.argmax(1)));
        var missing = Assert.Throws<ArgumentException>(() => oracle.Label(tensor(new float[] { 9, 9 }, new long[] { 1, 2 })));
        Assert.Equal("features", missing.ParamName);
        Assert.Equal("features", Assert.Throws<ArgumentException>(() => oracle.Label(zeros(2, 3))).ParamName);
    }

    [Fact]
    public void Dataset_with_conflicting_duplicates_is_rejected()
    {
        using var scope = NewDisposeScope();
        var features = tensor(new float[] { 1, 2, 1, 2 }, new long[] { 2, 2 });
        var ex = Assert.Throws<ArgumentException>(() => GroundTruthSupervisor.FromDataset(features, tensor(new long[] { 0, 1 }), 2));
        Assert.Equal("labels", ex.ParamName);
        // Equal rows with equal labels are fine.
        GroundTruthSupervisor.FromDataset(features, tensor(new long[] { 1, 1 }), 2);
        Assert.Equal("labels", Assert.Throws<ArgumentException>(() => GroundTruthSupervisor.FromDataset(features, tensor(new long[] { 0, 2 }), 2)).ParamName);
        Assert.Equal("labels", Assert.Throws<ArgumentException>(() => GroundTruthSupervisor.FromDataset(features, tensor(new long[] { 0 }), 2)).ParamName);
    }

    [Fact]
    public void Prefers_the_correct_class_response()
    {
        using var scope = NewDisposeScope();
        var oracle = new GroundTruthSupervisor(3, SignRule);
        var x = tensor(new float[] { -1, -1, 1, -1, 2, 2 }, new long[] { 3, 2 }); // truth 0, 1, 2
        var first = ResponseBatch.ForClassification(x, tensor(new long[] { 0, 2, 2 }));   // right, wrong, right
        var second = ResponseBatch.ForClassification(x, tensor(new long[] { 1, 1, 2 }));  // wrong, right, right

        var p = LeavesOnly(1, () => oracle.Prefer(first, second));

        Assert.Equal(new[] { 1f, 0f, 0.5f }, Floats(p));
        Assert.Equal(new[] { 0f, 1f, 0.5f }, Floats(oracle.Prefer(second, first)));
    }

    [Fact]
    public void Prefers_by_the_score_function_when_given_one()
    {
        using var scope = NewDisposeScope();
        // Score: the response id itself (higher is better), whatever the truth.
        var oracle = new GroundTruthSupervisor(3, SignRule, score: b => b.Targets.select(1, 0).to_type(ScalarType.Float32));
        var x = zeros(3, 2);
        var p = oracle.Prefer(ResponseBatch.ForClassification(x, tensor(new long[] { 0, 2, 1 })), ResponseBatch.ForClassification(x, tensor(new long[] { 1, 1, 1 })));

        Assert.Equal(new[] { 0f, 1f, 0.5f }, Floats(p));
    }

    [Fact]
    public void Bad_inputs_are_reported_clearly()
    {
        using var scope = NewDisposeScope();
        Assert.Equal("classes", Assert.Throws<ArgumentOutOfRangeException>(() => new GroundTruthSupervisor(1, SignRule)).ParamName);
        var oracle = new GroundTruthSupervisor(3, SignRule);
        Assert.Equal("features", Assert.Throws<ArgumentException>(() => oracle.Label(zeros(4))).ParamName);

        var x = zeros(2, 2);
        var two = ResponseBatch.ForClassification(x, zeros(2, ScalarType.Int64));
        var three = ResponseBatch.ForClassification(zeros(3, 2), zeros(3, ScalarType.Int64));
        Assert.Equal("second", Assert.Throws<ArgumentException>(() => oracle.Prefer(two, three)).ParamName);
        var lm = ResponseBatch.ForCausalLm(zeros(new long[] { 2, 4 }, ScalarType.Int64), ones(2, 4));
        Assert.Equal("first", Assert.Throws<ArgumentException>(() => oracle.Prefer(lm, lm)).ParamName);

        var broken = new GroundTruthSupervisor(3, f => zeros(f.shape[0], 2, ScalarType.Int64), name: "broken");
        Assert.Contains("broken", Assert.Throws<InvalidOperationException>(() => broken.Label(x)).Message);
        var outOfRange = new GroundTruthSupervisor(3, f => full(new long[] { f.shape[0] }, 3, ScalarType.Int64));
        Assert.Contains("outside [0, 3)", Assert.Throws<InvalidOperationException>(() => outOfRange.Label(x)).Message);
        Assert.Throws<InvalidOperationException>(() => outOfRange.Label(x));
        var badScore = new GroundTruthSupervisor(3, SignRule, score: b => zeros(5));
        Assert.Throws<InvalidOperationException>(() => badScore.Prefer(two, two));
    }
}
