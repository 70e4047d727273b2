// Weak-to-strong generalization on the built-in representation task (Burns et al. 2023; Charikar et al. 2024):
// linear probes on shallow pretrained trunks supervise linear probes on deep ones, and the students recover part of
// the gap to the ground-truth ceiling. Prints one table per (weak, strong) pair and the median PGR, and writes result.json.
//
// This sample is `superalign run weak-to-strong` (src/Superalign.Cli) with its options, plus two defaults:
// --seeds 0-2 and --out artifacts/weak-to-strong, each unless given (a --config file keeps its own seeds).
//
//   dotnet run -c Release --project samples/WeakToStrong -- [--seeds 0-4] [--set competenceLoss=logconf]
//       [--set ensemble=true] [--set device=cpu] [--config FILE] [--out DIR] [--threads 1] [--jobs 2] [--help]
//
// --threads defaults to 1: these models are tiny, and on a small (or shared) CPU one TorchSharp thread is several
// times faster than many. With the same thread count the results are reproducible.
return Superalign.Cli.CommandLine.RunSample("weak-to-strong", args, Path.Combine("artifacts", "weak-to-strong"), "0-2", Console.Out, Console.Error);
