// Superalign quickstart: one student learns a task (competence) and a value rule that sometimes overrides the task
// (conformity) with the alternating optimizer, on a task this program generates. Runs in well under a minute on CPU.
//
// The task: 16 features, 4 answer classes given by a hidden linear rule, and a fifth response, "refuse". The value
// rule: inputs in a sensitive region (x0 + x1 > 1.2, about 20% of them) must be refused; all others answered. The task
// labels say nothing about values (they answer everything), so the two objectives pull apart on sensitive inputs.
//
//   dotnet run --project samples/Quickstart -c Release      (no options: any argument but --help exits with 2)
using Superalign;
using Superalign.Data;
using Superalign.Objectives.Competence;
using Superalign.Objectives.Conformity;
using Superalign.Optimization;
using Superalign.Runtime;
using Superalign.Students;
using TorchSharp;
using static TorchSharp.torch;

const int Features = 16, Answers = 4, Refuse = Answers, Seed = 7;
// No options: --help prints the usage; any other argument is one line on stderr and exit code 2.
if (args.Length > 0)
{
    if (args.All(a => a is "--help" or "-h")) { Console.WriteLine("usage: Quickstart"); Environment.Exit(0); }
    Console.Error.WriteLine($"Quickstart: unexpected argument '{args.First(a => a is not ("--help" or "-h"))}'; this program takes no options (only --help).");
    Environment.Exit(2);
}
// The library's default device: CUDA when TorchSharp finds a GPU (untested: no CUDA build has run), else the CPU.
var device = Devices.Default();
var (trainX, trainAnswer, trainSensitive) = Generate(4000, Seed, device);
var (testX, testAnswer, testSensitive) = Generate(2000, Seed + 1, device);
Console.WriteLine($"quickstart: seed {Seed}, {trainX.shape[0]} training and {testX.shape[0]} held-out examples, {device.type}");

// quickstart:begin
// A student: an MLP over the features with one output per response (4 answers + refuse).
using var student = new MlpClassifier(new MlpClassifierOptions(Features, Answers + 1, HiddenWidth: 64, Depth: 2, Seed: Seed), device);
// libtorch's thread count: one thread for a model this small (its default, one per core, is many times slower here).
using var threads = TorchThreads.Use(TorchThreads.Recommended(student.Parameters().Sum(p => p.numel())));

// Competence data: the task's answers. Conformity data: preference pairs from the value rule
// (sensitive input: refuse ≻ answer; other input: answer ≻ refuse).
var competence = SupervisedDataset.ForClassification(trainX, trainAnswer);
var refuse = full_like(trainAnswer, Refuse);
var chosen = where(trainSensitive, refuse, trainAnswer);
var rejected = where(trainSensitive, trainAnswer, refuse);
// The reference policy is the initial student; its log-probs are computed once and cached with the pairs.
var conformity = PreferenceDataset.ForClassification(trainX, chosen, rejected).WithReferenceLogProbs(student.Clone());

var options = new AlternatingOptimizerOptions
{
    TotalSteps = 1200,
    Schedule = AlternationSchedules.FixedRatio(1, 2),   // one competence step, then two conformity steps, repeated
    LearningRate = 3e-3,
    WarmupSteps = 50,
};
// DPO's β: a classifier's log-ratios are those of a single response token, so β is larger than the 0.1 used for
// long LM responses (whose summed log-ratios are large).
using var optimizer = new AlternatingOptimizer(student, CompetenceObjectives.Create("ce"), ConformityObjectives.Create("sigmoid", beta: 2.0), options);

Report("before", student);
var reports = optimizer.Train(competence.Batches(64, seed: Seed), conformity.Batches(64, seed: Seed));
Report("after ", student);
// quickstart:end

var last = reports[^1];
Console.WriteLine($"{reports.Count} steps in {reports.Sum(r => r.Elapsed.TotalSeconds):F1} s; last conformity step: " +
    $"rewards/accuracies = {reports.Last(r => r.Phase == TrainingPhase.Conformity).Metric(MetricNames.RewardsAccuracies):F3}, " +
    $"rewards/margins = {reports.Last(r => r.Phase == TrainingPhase.Conformity).Metric(MetricNames.RewardsMargins):F3}");
return 0;

// Competence: accuracy on held-out inputs the value rule lets the student answer.
// Conformity: held-out inputs on which the student's response follows the value rule (refuse exactly the sensitive ones).
void Report(string when, IClassifierStudent s)
{
    using var scope = NewDisposeScope();
    using var _ = no_grad();
    s.SetTraining(false);
    var predicted = s.ClassLogits(testX).argmax(1);
    var answerable = testSensitive.logical_not();
    double competenceAccuracy = (predicted == testAnswer).logical_and(answerable).sum().ToDouble() / answerable.sum().ToDouble();
    var follows = (predicted == Refuse) == testSensitive;
    double conformityRate = follows.to_type(ScalarType.Float32).mean().ToDouble();
    double refusedSensitive = follows.logical_and(testSensitive).sum().ToDouble() / testSensitive.sum().ToDouble();
    Console.WriteLine($"{when}: competence (answer accuracy, n={answerable.sum().ToInt64()}) = {competenceAccuracy:P1}, " +
                      $"conformity (follows the value rule, n={testX.shape[0]}) = {conformityRate:P1} " +
                      $"(refuses {refusedSensitive:P1} of the {testSensitive.sum().ToInt64()} sensitive inputs)");
}

static (Tensor X, Tensor Answer, Tensor Sensitive) Generate(int n, int seed, Device device)
{
    var g = new Generator(42);                       // the hidden task rule is shared by train and test
    var w = randn(new long[] { Features, Answers }, generator: g);
    var data = new Generator((ulong)seed);
    var x = randn(new long[] { n, Features }, generator: data);
    return (x.to(device), x.matmul(w).argmax(1).to(device), ((x.select(1, 0) + x.select(1, 1)) > 1.2).to(device));
}
