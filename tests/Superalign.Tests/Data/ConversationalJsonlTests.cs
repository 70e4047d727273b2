using Superalign.Data;
using Superalign.Data.Tokenizers;
using Superalign.Tests.Infrastructure;
using Xunit;

namespace Superalign.Tests.Data;

/// <summary>Chat templates and TRL's conversational preference rows (explicit and implicit prompt), with file:line errors.</summary>
public sealed class ConversationalJsonlTests : IDisposable
{
    private const string HfChatMl =
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    private readonly TempJsonlFiles _files = new("superalign-chat-");

    public void Dispose() => _files.Dispose();

    [Fact]
    public void ChatMl_renders_each_message_and_the_generation_prompt()
    {
        var text = ChatTemplate.ChatMl.Render([new("system", "Be brief."), new("user", "2+2?")], addGenerationPrompt: true);
        Assert.Equal("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n", text);
        Assert.Equal("<|im_start|>user\nhi<|im_end|>\n", ChatTemplate.ChatMl.Render([new("user", "hi")], addGenerationPrompt: false));
    }

    [Fact]
    public void A_models_chatml_template_is_recognised_however_spelled_and_anything_else_is_refused_with_the_alternatives()
    {
        Assert.Same(ChatTemplate.ChatMl, ChatTemplate.FromHuggingFace(HfChatMl));
        var respelled = "{%- for message in messages -%}\n  {{- \"<|im_start|>\" + message.role + \"\n\" + message.content + \"<|im_end|>\n\" -}}\n{%- endfor -%}\n{%- if add_generation_prompt -%}{{ \"<|im_start|>assistant\n\" }}{%- endif -%}";
        Assert.Same(ChatTemplate.ChatMl, ChatTemplate.FromHuggingFace(respelled));
        var llama = "{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% endif %}{% endfor %}";
        var error = Assert.Throws<NotSupportedException>(() => ChatTemplate.FromHuggingFace(llama));
        Assert.Contains("ChatTemplate.ChatMl", error.Message);
        Assert.Contains("delegate", error.Message);
        Assert.Throws<NotSupportedException>(() => ChatTemplate.FromHuggingFace(HfChatMl.Replace("assistant", "bot")));
    }

    [Fact]
    public void A_model_directorys_chat_template_comes_from_its_tokenizer_config()
    {
        var model = Directory.CreateDirectory(Path.Combine(_files.Directory, "model")).FullName;
        File.WriteAllText(Path.Combine(model, "vocab.json"), """{"a": 0, "b": 1, "ab": 2}""");
        File.WriteAllText(Path.Combine(model, "merges.txt"), "a b\n");
        File.WriteAllText(Path.Combine(model, "tokenizer_config.json"), System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, string> { ["chat_template"] = HfChatMl }));
        var tokenizer = PretrainedTokenizer.FromDirectory(model);
        Assert.Same(ChatTemplate.ChatMl, ChatTemplate.FromHuggingFace(tokenizer.ChatTemplateSource!));
    }

    [Fact]
    public void Conversational_rows_with_explicit_and_implicit_prompts_read_beside_standard_rows()
    {
        var path = _files.Write(
            """{"prompt": [{"role": "user", "content": "2+2?"}], "chosen": [{"role": "assistant", "content": "4"}], "rejected": [{"role": "assistant", "content": "5"}]}""",
            "",
            """{"chosen": [{"role": "system", "content": "S"}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}], "rejected": [{"role": "system", "content": "S"}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Go away"}]}""",
            """{"prompt": "p", "chosen": "c", "rejected": "r"}""");
        var rows = DataFiles.ReadPreferenceJsonl(path, ChatTemplate.ChatMl);
        Assert.Equal(
            [
                new PreferenceRecord("<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n", "4<|im_end|>\n", "5<|im_end|>\n", path, 1),
                new PreferenceRecord("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", "Hello<|im_end|>\n", "Go away<|im_end|>\n", path, 3),
                new PreferenceRecord("p", "c", "r", path, 4),
            ], rows);
    }

    [Theory]
    [InlineData("""{"prompt": [{"role": "user"}], "chosen": [{"role": "assistant", "content": "4"}], "rejected": [{"role": "assistant", "content": "5"}]}""", "field 'prompt', message 0 needs a string 'content'")]
    [InlineData("""{"prompt": "2+2?", "chosen": [{"role": "assistant", "content": "4"}], "rejected": [{"role": "assistant", "content": "5"}]}""", "field 'prompt' is not a list of messages")]
    [InlineData("""{"chosen": [{"role": "user", "content": "a"}], "rejected": [{"role": "user", "content": "b"}]}""", "share no leading message")]
    [InlineData("""{"chosen": [{"role": "user", "content": "a"}], "rejected": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}""", "chosen has nothing after")]
    [InlineData("""{"prompt": [], "chosen": [{"role": "assistant", "content": "4"}], "rejected": [{"role": "assistant", "content": "5"}]}""", "field 'prompt' is an empty list")]
    [InlineData("""{"prompt": [{"role": "user", "content": "q"}], "chosen": [3], "rejected": [{"role": "assistant", "content": "5"}]}""", "field 'chosen', message 0 must be an object")]
    public void Bad_conversational_rows_name_the_file_and_line(string row, string problem)
    {
        var good = """{"prompt": [{"role": "user", "content": "q"}], "chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]}""";
        var path = _files.Write(good, row);
        var error = Assert.Throws<DataFileException>(() => DataFiles.ReadPreferenceJsonl(path, ChatTemplate.ChatMl));
        Assert.StartsWith($"{path}:2: ", error.Message);
        Assert.Contains(problem, error.Message);
        Assert.Equal(2, error.Line);
    }

    [Fact]
    public void Without_a_template_a_conversational_row_is_an_error_that_says_how_to_read_it()
    {
        var path = _files.Write("""{"prompt": [{"role": "user", "content": "q"}], "chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]}""");
        var error = Assert.Throws<DataFileException>(() => DataFiles.ReadPreferenceJsonl(path));
        Assert.StartsWith($"{path}:1: field 'prompt' must be a string, found a list", error.Message);
        Assert.Contains("ChatTemplate.ChatMl", error.Message);
    }

    [Fact]
    public void A_template_that_cannot_split_prompt_from_completion_is_an_error_at_the_row()
    {
        var reversed = new ChatTemplate("reversed", (messages, generation) => string.Concat(messages.Reverse().Select(m => m.Content)) + (generation ? ">" : ""));
        var path = _files.Write("""{"prompt": [{"role": "user", "content": "q"}], "chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]}""");
        var error = Assert.Throws<DataFileException>(() => DataFiles.ReadPreferenceJsonl(path, reversed));
        Assert.StartsWith($"{path}:1: the reversed template's rendering", error.Message);
    }
}
