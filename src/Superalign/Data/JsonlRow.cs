using System.Text.Json;

namespace Superalign.Data;

/// <summary>One JSON object of a JSONL file with its place, and the field readers of <see cref="DataFiles"/>: every problem a <see cref="DataFileException"/> naming file and line.</summary>
internal sealed class JsonlRow(string path, long line, JsonElement root, int maxFieldChars)
{
    /// <summary>The 1-based line.</summary>
    public long Line => line;

    /// <summary>An error at this row.</summary>
    public DataFileException Error(string problem, Exception? inner = null) => new(path, line, problem, inner);

    /// <summary>Whether the row has the field (null counts as absent).</summary>
    public bool Has(string name) => TryGet(name, out var value) && value.ValueKind != JsonValueKind.Null;

    /// <summary>Whether the field is present and a JSON array.</summary>
    public bool IsArray(string name) => TryGet(name, out var value) && value.ValueKind == JsonValueKind.Array;

    /// <summary>A string field, at most the field limit long.</summary>
    public string String(string name, string format)
    {
        if (!TryGet(name, out var value))
            throw Error($"missing field '{name}' ({format}).");
        if (value.ValueKind == JsonValueKind.Array)
            throw Error($"field '{name}' must be a string, found a list (TRL's conversational format?): read conversational rows with a chat template, e.g. DataFiles.ReadPreferenceJsonl(path, ChatTemplate.ChatMl).");
        if (value.ValueKind != JsonValueKind.String)
            throw Error($"field '{name}' must be a string, found {value.ValueKind}.");
        return Text(value, $"field '{name}'");
    }

    /// <summary>A field holding a non-empty list of messages <c>{"role": string, "content": string}</c>.</summary>
    public IReadOnlyList<ChatMessage> Messages(string name)
    {
        if (!TryGet(name, out var value))
            throw Error($"missing field '{name}' (TRL's conversational preference format needs chosen and rejected message lists, and a prompt list unless the prompt is implicit).");
        if (value.ValueKind != JsonValueKind.Array)
            throw Error($"field '{name}' must be a list of messages, found {value.ValueKind}.");
        var messages = new List<ChatMessage>();
        int i = 0;
        foreach (var message in value.EnumerateArray())
        {
            string where = $"field '{name}', message {i}";
            if (message.ValueKind != JsonValueKind.Object)
                throw Error($"{where} must be an object with string 'role' and 'content', found {message.ValueKind}.");
            string Part(string part)
            {
                if (!message.TryGetProperty(part, out var v) || v.ValueKind != JsonValueKind.String)
                    throw Error($"{where} needs a string '{part}'{(v.ValueKind == JsonValueKind.Undefined ? "" : $", found {v.ValueKind}")}.");
                return Text(v, $"{where}: '{part}'");
            }
            string role = Part("role");
            if (role.Length == 0) throw Error($"{where} has an empty 'role'.");
            messages.Add(new ChatMessage(role, Part("content")));
            i++;
        }
        if (messages.Count == 0) throw Error($"field '{name}' is an empty list of messages.");
        return messages;
    }

    private bool TryGet(string name, out JsonElement value)
    {
        try
        {
            // Comparing names unescapes them: a name holding "\ud800" throws here, not only a value.
            return root.TryGetProperty(name, out value);
        }
        catch (InvalidOperationException e)
        {
            throw Error($"a field name is not valid Unicode text (an escaped lone surrogate such as \\ud800?): {Excerpts.Of(e.Message, 200)}", e);
        }
    }

    private string Text(JsonElement value, string what)
    {
        string text;
        try
        {
            text = value.GetString()!;
        }
        catch (InvalidOperationException e)
        {
            throw Error($"{what} is not valid Unicode text (an escaped lone surrogate such as \\ud800?): {Excerpts.Of(e.Message, 200)}", e);
        }
        if (text.Length > maxFieldChars)
            throw Error($"{what} has {text.Length:N0} characters, more than {maxFieldChars:N0} (maxFieldChars).");
        return text;
    }
}
