// Superalign sandwiching sample: a weak judge that sees only k of 32 features, helped (or not) by strong models that
// see them all, on the built-in sparse-evidence task. Prints judge accuracy with no help, with one consultant and
// after a debate, next to the expert's, with 95% intervals over seeds, and writes result.json.
//
// This sample is `superalign run sandwiching` (src/Superalign.Cli) with its options, plus two defaults:
// --seeds 0-2 and --out artifacts/sandwiching, each unless given (a --config file keeps its own seeds).
//
//   dotnet run --project samples/Sandwiching -c Release -- [--seeds 0-4] [--set reveals=8] [--set task.amplitude=2]
//       [--set task.evidencePerExample=2] [--set device=cpu] [--out DIR] [--threads 1] [--help]
//   (reveals, task.amplitude and task.evidencePerExample are the settings of the table "What we found" in docs/protocols.md)
//
// The models are tiny: one CPU thread (the default) is usually fastest, and with the same thread count results are
// bitwise reproducible.
return Superalign.Cli.CommandLine.RunSample("sandwiching", args, Path.Combine("artifacts", "sandwiching"), "0-2", Console.Out, Console.Error);
