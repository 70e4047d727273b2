using System.Text;

namespace Superalign.Data;

/// <summary>
/// Turns a conversation (<see cref="ChatMessage"/>s) into the text a tokenizer encodes, as a Hugging Face chat template
/// does. Supported: the built-in <see cref="ChatMl"/>; a model's own <c>chat_template</c> (from
/// <c>tokenizer_config.json</c>, see <see cref="Tokenizers.PretrainedTokenizer.ChatTemplateSource"/>) only where it is
/// one of the recognised simple forms (<see cref="FromHuggingFace"/>: ChatML written in Jinja, in its usual
/// spellings); and any template of your own as a delegate (<see cref="ChatTemplate(string, Func{IReadOnlyList{ChatMessage}, bool, string})"/>).
/// Jinja itself is not interpreted.
/// </summary>
/// <remarks>
/// A conversational preference row becomes a <see cref="PreferenceRecord"/> as TRL makes it: the prompt is the
/// rendering of the prompt turns with the generation prompt (<see cref="Render"/> with <c>addGenerationPrompt</c>), a
/// completion is what the rendering of the whole conversation (prompt turns and the completion's turns, no generation
/// prompt) adds after it (<see cref="Split"/>).
/// </remarks>
public sealed class ChatTemplate
{
    private const string ChatMlCanonical =
        @"{%formessageinmessages%}{{'<|im_start|>'+message['role']+'\n'+message['content']+'<|im_end|>\n'}}{%endfor%}{%ifadd_generation_prompt%}{{'<|im_start|>assistant\n'}}{%endif%}";

    private readonly Func<IReadOnlyList<ChatMessage>, bool, string> _render;

    /// <summary>A template of your own.</summary>
    /// <param name="name">Its name, for messages.</param>
    /// <param name="render">Renders messages; the flag asks for the generation prompt (the start of an assistant turn) at the end.</param>
    public ChatTemplate(string name, Func<IReadOnlyList<ChatMessage>, bool, string> render)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(render);
        Name = name;
        _render = render;
    }

    /// <summary>
    /// ChatML: <c>&lt;|im_start|&gt;{role}\n{content}&lt;|im_end|&gt;\n</c> per message, generation prompt
    /// <c>&lt;|im_start|&gt;assistant\n</c>.
    /// </summary>
    public static ChatTemplate ChatMl { get; } = new("chatml", (messages, generation) =>
    {
        var text = new StringBuilder();
        foreach (var message in messages) text.Append("<|im_start|>").Append(message.Role).Append('\n').Append(message.Content).Append("<|im_end|>\n");
        if (generation) text.Append("<|im_start|>assistant\n");
        return text.ToString();
    });

    /// <summary>The template's name (<c>chatml</c> for <see cref="ChatMl"/>).</summary>
    public string Name { get; }

    /// <summary>
    /// A model's own Jinja <c>chat_template</c>, where it is a recognised simple form: today ChatML (the loop
    /// <c>'&lt;|im_start|&gt;' + message['role'] + '\n' + message['content'] + '&lt;|im_end|&gt;' + '\n'</c> then
    /// <c>{% if add_generation_prompt %}</c> <c>'&lt;|im_start|&gt;assistant\n'</c>), however it is spaced or quoted, with
    /// <c>message.role</c> for <c>message['role']</c>, adjacent literals joined or not and whitespace-trimming dashes.
    /// </summary>
    /// <param name="source">The template's Jinja text.</param>
    /// <exception cref="NotSupportedException">Any other template: the message says ChatML (<see cref="ChatMl"/>) or a
    /// delegate of your own can be used instead.</exception>
    public static ChatTemplate FromHuggingFace(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (Canonical(source) == ChatMlCanonical) return ChatMl;
        throw new NotSupportedException(
            $"The model's chat_template (\"{Excerpts.Of(source, 80)}\") is not one of the recognised simple forms (ChatML); Jinja templates are not interpreted. " +
            "Use ChatTemplate.ChatMl, or new ChatTemplate(name, render) with a delegate that renders the model's format.");
    }

    /// <summary>The text of <paramref name="messages"/>, with the generation prompt at the end when <paramref name="addGenerationPrompt"/>.</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        ArgumentNullException.ThrowIfNull(messages);
        return _render(messages, addGenerationPrompt);
    }

    /// <summary>
    /// The prompt text (prompt turns with the generation prompt) and the completion text (what the whole conversation
    /// adds after it) of a prompt and a completion.
    /// </summary>
    /// <exception cref="ArgumentException">The rendering of the prompt is not a prefix of the rendering of the whole
    /// conversation (the template cannot split prompt from completion).</exception>
    public (string Prompt, string Completion) Split(IReadOnlyList<ChatMessage> prompt, IReadOnlyList<ChatMessage> completion)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(completion);
        string head = Render(prompt, addGenerationPrompt: true);
        string whole = Render([.. prompt, .. completion], addGenerationPrompt: false);
        if (!whole.StartsWith(head, StringComparison.Ordinal))
            throw new ArgumentException($"the {Name} template's rendering of the prompt with the generation prompt (\"{Excerpts.Of(head, 60)}\") does not begin the rendering of the whole conversation (\"{Excerpts.Of(whole, 60)}\"), so prompt and completion cannot be split.", nameof(completion));
        return (head, whole[head.Length..]);
    }

    /// <summary>The template with whitespace outside literals removed, one quote style, literal newlines as <c>\n</c>,
    /// no trimming dashes, <c>message.x</c> as <c>message['x']</c>, and adjacent literals joined.</summary>
    internal static string Canonical(string source)
    {
        var text = new StringBuilder();
        char quote = '\0';
        for (int i = 0; i < source.Length; i++)
        {
            char c = source[i];
            if (quote != '\0')
            {
                if (c == '\\' && i + 1 < source.Length)
                {
                    text.Append(c).Append(source[++i]);
                    continue;
                }
                if (c == quote)
                {
                    text.Append('\'');
                    quote = '\0';
                    continue;
                }
                if (c == '\n') text.Append("\\n");
                else if (c == '\'') text.Append("\\'");
                else text.Append(c);
                continue;
            }
            if (c is '\'' or '"')
            {
                quote = c;
                text.Append('\'');
                continue;
            }
            if (!char.IsWhiteSpace(c)) text.Append(c);
        }
        return text.ToString()
            .Replace("{%-", "{%").Replace("-%}", "%}").Replace("{{-", "{{").Replace("-}}", "}}")
            .Replace("message.role", "message['role']").Replace("message.content", "message['content']")
            .Replace("'+'", "");
    }
}
