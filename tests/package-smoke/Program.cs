// A consumer of the packed Superalign package: a few alternating steps on a generated task.
using Superalign;
using Superalign.Data;
using Superalign.Optimization;
using TorchSharp;
using static TorchSharp.torch;

manual_seed(0);
var x = randn(64, 4);
var y = (x.select(1, 0) > 0).to_type(ScalarType.Int64);
var student = new SmokeStudent();
var data = SupervisedDataset.ForClassification(x, y);
var prefs = PreferenceDataset.ForClassification(x, zeros(64, dtype: ScalarType.Int64), ones(64, dtype: ScalarType.Int64))
    .WithReferenceLogProbs(student.Clone());
using var optimizer = new AlternatingOptimizer(student, new Ce(), new Dpo(),
    new AlternatingOptimizerOptions { TotalSteps = 6, LearningRate = 0.05 });
var reports = optimizer.Train(data.Batches(16), prefs.Batches(16));
foreach (var r in reports) Console.WriteLine(r);
if (reports.Count != 6 || reports.Any(r => !double.IsFinite(r.Loss))) { Console.Error.WriteLine("package smoke test failed"); return 1; }
Console.WriteLine("package smoke test: ok");
return 0;

sealed class SmokeStudent() : Superalign.Students.TorchStudent("smoke", nn.Linear(4, 2), CPU)
{
    public override Tensor Logits(ResponseBatch batch) => ((nn.Module<Tensor, Tensor>)Module).call(batch.Inputs).unsqueeze(1);
    protected override Superalign.Students.TorchStudent CreateSibling() => new SmokeStudent();
}

sealed class Ce : ICompetenceObjective
{
    public string Name => "ce";
    public bool RequiresSoftTargets => false;
    public Tensor Loss(CompetenceInput i) => nn.functional.cross_entropy(i.Logits.squeeze(1), i.Targets.squeeze(1));
}

sealed class Dpo : IConformityObjective
{
    public string Name => "sigmoid";
    public bool RequiresReference => true;
    public ConformityOutput Compute(PreferenceLogProbs p)
    {
        var c = p.PolicyChosen - p.RequireReferenceChosen();
        var r = p.PolicyRejected - p.RequireReferenceRejected();
        return new ConformityOutput(-nn.functional.logsigmoid(0.1 * (c - r)).mean(), (0.1 * c).detach(), (0.1 * r).detach());
    }
}
