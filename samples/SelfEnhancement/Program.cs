// Self-enhancement (learning from AI feedback): a tiny LM trained by SFT on a few demonstrations of the value rule
// samples two responses per prompt, a judge of equal capability (itself, or a peer) prefers one, and the preference
// objective trains on the judged pairs, for several rounds. A verifier separate from the policy (a small classifier
// trained on 256 labelled responses) is a third judge; the task's exact checkers act as an oracle judge for
// comparison. Prints competence, conformity, judge agreement and diversity per round with 95% intervals over seeds.
//
// This sample is `superalign run self-enhancement` (src/Superalign.Cli) with its options, plus two defaults:
// --seeds 0-2 and --out artifacts/self-enhancement, each unless given (a --config file keeps its own seeds).
//
//   dotnet run --project samples/SelfEnhancement -c Release -- [--seeds 0-2] [--set rounds=3] [--set stepsPerRound=32]
//       [--set samplingTemperature=1.5] [--set conformityLoss=orpo] [--set 'judges=["oracle","peer"]'] [--out DIR] [--help]
return Superalign.Cli.CommandLine.RunSample("self-enhancement", args, Path.Combine("artifacts", "self-enhancement"), "0-2", Console.Out, Console.Error);
