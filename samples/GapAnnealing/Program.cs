// The co-optimization framework's two principles on the built-in representation task, as two protocols run one after
// the other:
//  1. gap-annealing — a chain of teacher–student rounds up the trunk ladder (w8-d1 → w16-d1 → w32-d2 → w64-d3 →
//     w128-d4), each accepted student supervising the next, against direct weak → strong supervision at the same
//     budget of updates; written to OUT/gap-annealing;
//  2. diversified-supervision — one weak supervisor vs an ensemble of diverse ones (mean labels, agreement-weighted
//     loss) vs easy-to-hard curricula, and how many of each supervisor's errors the strong student copies; written to
//     OUT/diversified-supervision.
// Prints each protocol's tables with 95% intervals over seeds and writes each one's result.json.
//
// This sample is `superalign run gap-annealing` then `superalign run diversified-supervision` (src/Superalign.Cli)
// with the same options, plus two defaults: --seeds 0-4 and --out artifacts (OUT), each unless given. Both protocols'
// options are checked before the first runs, so a --set applies to both (e.g. seeds, device, task.*, trainSize,
// testSize). A setting of one protocol only (acceptance, ladder, members, curriculumPacing, ...) goes to that protocol
// run alone, which is also how one part runs without the other:
//
//   dotnet run -c Release --project samples/GapAnnealing -- [--seeds 0-4] [--set device=cpu] [--out DIR] [--threads 1] [--help]
//   dotnet run -c Release --project src/Superalign.Cli -- run gap-annealing --seeds 0-4 --set acceptance=always --out artifacts/gap-annealing
//   dotnet run -c Release --project src/Superalign.Cli -- run diversified-supervision --seeds 0-4 --set curriculumPacing=partitioned --out artifacts/diversified-supervision
//
// --threads defaults to 1: the models are tiny, and on a small or shared CPU one TorchSharp thread is several times
// faster than many. With the same thread count the results are reproducible.
return Superalign.Cli.CommandLine.RunSample(["gap-annealing", "diversified-supervision"], args, "artifacts", "0-4", Console.Out, Console.Error);
