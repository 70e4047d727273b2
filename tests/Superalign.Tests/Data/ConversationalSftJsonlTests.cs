using Superalign.Data;
using Superalign.Tests.Infrastructure;
using Xunit;

namespace Superalign.Tests.Data;

/// <summary>TRL's conversational SFT rows (<c>messages</c>, and prompt/completion message lists) rendered with ChatML.</summary>
public sealed class ConversationalSftJsonlTests : IDisposable
{
    private readonly TempJsonlFiles _files = new("superalign-chat-sft-");

    public void Dispose() => _files.Dispose();

    [Fact]
    public void Messages_split_at_the_last_assistant_message_and_lists_and_strings_read_beside_each_other()
    {
        var path = _files.Write(
            """{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}""",
            """{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}, {"role": "user", "content": "3+3?"}, {"role": "assistant", "content": "6"}]}""",
            """{"prompt": [{"role": "user", "content": "1+1?"}], "completion": [{"role": "assistant", "content": "2"}]}""",
            """{"prompt": "plain", "completion": " text"}""");
        var rows = DataFiles.ReadSftJsonl(path, ChatTemplate.ChatMl);
        Assert.Equal(4, rows.Count);
        Assert.Equal("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n", rows[0].Prompt);
        Assert.Equal("4<|im_end|>\n", rows[0].Completion);
        Assert.Equal("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nhello<|im_end|>\n<|im_start|>user\n3+3?<|im_end|>\n<|im_start|>assistant\n", rows[1].Prompt);
        Assert.Equal("6<|im_end|>\n", rows[1].Completion);
        Assert.Equal("<|im_start|>user\n1+1?<|im_end|>\n<|im_start|>assistant\n", rows[2].Prompt);
        Assert.Equal("2<|im_end|>\n", rows[2].Completion);
        Assert.Equal(("plain", " text"), (rows[3].Prompt, rows[3].Completion));
        Assert.Equal(3, rows[2].Line);
    }

    [Theory]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}]}""", "assistant message")]
    [InlineData("""{"messages": [{"role": "assistant", "content": "hi"}]}""", "assistant message")]
    [InlineData("""{"prompt": [{"role": "user", "content": "hi"}], "completion": "hello"}""", "'completion' is not a list")]
    [InlineData("""{"messages": [{"role": "user"}]}""", "'content'")]
    public void A_bad_conversational_row_names_the_file_and_line(string bad, string problem)
    {
        var path = _files.Write("""{"prompt": "a", "completion": "b"}""", bad);
        var error = Assert.Throws<DataFileException>(() => DataFiles.ReadSftJsonl(path, ChatTemplate.ChatMl));
        Assert.Equal(2, error.Line);
        Assert.Contains($"{path}:2", error.Message);
        Assert.Contains(problem, error.Message);
    }

    [Fact]
    public void Without_a_template_a_message_list_is_an_error_that_says_how_to_read_it()
    {
        var path = _files.Write("""{"prompt": [{"role": "user", "content": "hi"}], "completion": [{"role": "assistant", "content": "yo"}]}""");
        var error = Assert.Throws<DataFileException>(() => DataFiles.ReadSftJsonl(path));
        Assert.Contains("chat template", error.Message);
    }
}
