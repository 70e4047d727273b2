// The headline comparison: on the built-in value-conflict task (arithmetic requests, some of which a value rule says
// to refuse or to answer with a caveat), train the same tiny LM with competence-only, conformity-only, sequential
// (SFT then preference training), joint (weighted sum) and alternating schedules from the same base model and with the
// same budget of mini-batches; print held-out competence and conformity with 95% intervals over seeds and write result.json.
//
// This sample is `superalign run co-optimization` (src/Superalign.Cli) with its options, plus two defaults:
// --seeds 0-4 and --out artifacts/co-optimization, each unless given (a --config file keeps its own seeds).
//
//   dotnet run --project samples/CoOptimization -c Release -- [--seeds 0-4] [--set batchBudget=1600]
//       [--set conformityLoss=sigmoid] [--set beta=0.1] [--set learningRate=2e-3] [--out DIR] [--jobs 2] [--help]
//
// The schedules are data in the options (`schedules`): write the effective options with --write-config FILE, edit the
// list, and pass the file with --config FILE. samples/CoOptimization/conflict-aware.json is such a file: plain
// alternation against an annealed ratio, joint steps with PCGrad / MGDA, and two searches over learning directions
// (phase, joint weights) scored on 128 held-out training prompts (probePrompts), with seeds 0-4:
//
//   dotnet run --project samples/CoOptimization -c Release -- --config samples/CoOptimization/conflict-aware.json --seeds 0-2
return Superalign.Cli.CommandLine.RunSample("co-optimization", args, Path.Combine("artifacts", "co-optimization"), "0-4", Console.Out, Console.Error);
