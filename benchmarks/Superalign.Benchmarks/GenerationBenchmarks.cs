using BenchmarkDotNet.Attributes;
using Superalign.Students;
using TorchSharp;
using static TorchSharp.torch;

namespace Superalign.Benchmarks;

/// <summary>
/// Greedy generation of 128 new tokens for 8 prompts of 32 tokens with a TinyCausalLm (d 256, 4 layers, 4 heads,
/// vocabulary 256, context 256): the KV cache (<see cref="LanguageModelGeneration.Generate"/>, prefill then one
/// position per token) against the cache-free loop that re-reads the whole sequence each step (what
/// <see cref="TinyCausalLm.Generate"/> did before the cache, and still does when the sequence outgrows the context).
/// Times are per generated token (8 × 128 per invocation); the Ratio column is the cache's speed-up inverted.
/// </summary>
[MemoryDiagnoser]
public class GenerationBenchmarks
{
    private const int Batch = 8, PromptLength = 32, NewTokens = 128;
    private TinyCausalLm _model = null!;
    private Tensor _prompts = null!;
    private readonly GenerationOptions _options = new(NewTokens, Temperature: 0);

    [GlobalSetup]
    public void Setup()
    {
        (_model, _prompts) = Fixture(Batch, PromptLength);
        // Same tokens both ways (greedy), checked once so the comparison is between equal outputs.
        using var cached = LanguageModelGeneration.Generate(_model, _prompts, null, _options);
        using var free = _model.GenerateWithoutCache(_prompts, _options);
        using var same = cached.eq(free).all();
        if (!same.item<bool>()) throw new InvalidOperationException("cached and cache-free greedy generation differ");
    }

    /// <summary>
    /// The model and prompts of both generation benchmarks (all threads): d 256, 4 layers, 4 heads, vocabulary 256,
    /// context 256, seed 1; <paramref name="batch"/> random prompts of <paramref name="length"/> tokens, seed 7.
    /// </summary>
    internal static (TinyCausalLm Model, Tensor Prompts) Fixture(int batch, int length)
    {
        torch.set_num_threads(Environment.ProcessorCount);
        var model = new TinyCausalLm(new TinyCausalLmOptions(VocabularySize: 256, MaxSequenceLength: 256, ModelDim: 256, Layers: 4, Heads: 4, Seed: 1), CPU);
        using var g = new Generator(7, CPU);
        var prompts = randint(0, 256, new long[] { batch, length }, generator: g);
        prompts.DetachFromDisposeScope();
        return (model, prompts);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch * NewTokens)]
    public long WithoutCache()
    {
        using var tokens = _model.GenerateWithoutCache(_prompts, _options);
        return tokens.shape[1];
    }

    [Benchmark(OperationsPerInvoke = Batch * NewTokens)]
    public long WithCache()
    {
        using var tokens = LanguageModelGeneration.Generate(_model, _prompts, null, _options);
        return tokens.shape[1];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _prompts.Dispose();
        _model.Dispose();
    }
}

/// <summary>
/// The same greedy generation (8 prompts of 32 tokens, 128 new tokens, d 256, 4 layers, 4 heads, vocabulary 256,
/// context 256) with this library's KV cache against PyTorch eager with its own KV cache
/// (<c>benchmarks/peer/torch_peer.py --phase generate</c>: prefill, then one position per token, as Hugging Face's
/// <c>generate(use_cache=True)</c>), side by side in one run at the same thread count. Random weights on both sides
/// (the work per token does not depend on them); the Ratio column reads "peer time / Superalign time".
/// </summary>
[MemoryDiagnoser]
public class GenerationPeerBenchmarks
{
    private const int Batch = 8, PromptLength = 32, NewTokens = 128;
    private TinyCausalLm? _model;
    private Tensor? _prompts;
    private TorchPeer? _peer;
    private readonly GenerationOptions _options = new(NewTokens, Temperature: 0);

    [GlobalSetup(Target = nameof(ThisLibraryWithCache))]
    public void SetupLibrary()
    {
        (_model, _prompts) = GenerationBenchmarks.Fixture(Batch, PromptLength);
    }

    [GlobalSetup(Target = nameof(PyTorchEagerWithCache))]
    public void SetupPeer() => _peer = new TorchPeer("lm", "d256-L4-T256", "generate", cachedReference: false, Environment.ProcessorCount, warmupSteps: 1);

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch * NewTokens)]
    public long ThisLibraryWithCache()
    {
        using var tokens = LanguageModelGeneration.Generate(_model!, _prompts!, null, _options);
        return tokens.shape[1];
    }

    [Benchmark(OperationsPerInvoke = Batch * NewTokens)]
    public void PyTorchEagerWithCache() => _peer!.Run(1);

    [GlobalCleanup]
    public void Cleanup()
    {
        _peer?.Dispose();
        _prompts?.Dispose();
        _model?.Dispose();
        (_peer, _prompts, _model) = (null, null, null);
    }
}
