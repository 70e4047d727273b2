using TorchSharp.Modules;

namespace Superalign;

/// <summary>Options for sampling responses from a language model.</summary>
/// <param name="MaxNewTokens">Most tokens to generate after the prompt.</param>
/// <param name="Temperature">Softmax temperature; 0 means greedy decoding.</param>
/// <param name="TopK">Keep only the k most likely tokens (0 = all).</param>
/// <param name="StopToken">Stop a row when it emits this token (it is kept), or -1.</param>
/// <param name="Seed">Seed for sampling, or null to use the global generator.</param>
public sealed record GenerationOptions(int MaxNewTokens = 16, double Temperature = 1.0, int TopK = 0, long StopToken = -1, long? Seed = null);
