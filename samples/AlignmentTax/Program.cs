// The headline experiment, the alignment tax: on the built-in value-conflict task, train a tiny LM to convergence with
// SFT, then train copies of it with each arm on the same batch budget — sequential SFT→ORPO and SFT→DPO, the reverse
// order, conformity only, joint at equal batches and at equal updates, alternating at 1:3, 1:1 and 3:1, pairs of the
// model's own answers (no competence signal) and pairs flipped by a weak judge — and print each arm's competence drop
// from its pre-preference model, the paired differences, the held-out value probes and the conformity PGR, with 95%
// t intervals over seeds; write result.json and the trade-off chart.
//
// This sample is `superalign run alignment-tax` (src/Superalign.Cli) with its options, plus two defaults:
// --seeds 0-19 and --out artifacts/alignment-tax, each unless given (a --config file keeps its own seeds).
//
//   dotnet run --project samples/AlignmentTax -c Release -- [--seeds 0-19] [--jobs 2] [--set batchBudget=800]
//       [--set learningRate=1e-3] [--config docs/results/weak-conformity/config.json] [--out DIR] [--help]
//
// Twenty seeds take about 2 CPU-hours on a 2-core AMD EPYC (about 6.5 CPU-minutes a seed); a killed run resumes from
// its --out directory.
return Superalign.Cli.CommandLine.RunSample("alignment-tax", args, Path.Combine("artifacts", "alignment-tax"), "0-19", Console.Out, Console.Error);
