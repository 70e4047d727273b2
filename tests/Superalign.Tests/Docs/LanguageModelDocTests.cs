using System.Text.RegularExpressions;
using Superalign.Data;
using Superalign.Data.Tokenizers;
using Superalign.Objectives.Competence;
using Superalign.Objectives.Conformity;
using Superalign.Optimization;
using Superalign.Reference;
using Superalign.Students.Adapters;
using Superalign.Students.Pretrained;
using Xunit;

namespace Superalign.Tests.Docs;

/// <summary>
/// The code of docs/language-models.md, compiled here (it needs a downloaded model and data files to run, so it is not
/// called) and kept equal to the doc's block, so the documented API cannot rot.
/// </summary>
public sealed class LanguageModelDocTests
{
    [Fact]
    public void The_doc_shows_the_compiled_code()
    {
        string root = ReadmeTests.RepoRoot();
        var code = File.ReadAllText(Path.Combine(root, "tests", "Superalign.Tests", "Docs", "LanguageModelDocTests.cs")).Replace("\r\n", "\n");
        var doc = File.ReadAllText(Path.Combine(root, "docs", "language-models.md")).Replace("\r\n", "\n");
        var region = Regex.Match(code, @"// language-models:code:begin\n(?<c>.*?)\n// language-models:code:end", RegexOptions.Singleline);
        var block = Regex.Match(doc, @"<!-- language-models:code:begin -->\n```csharp\n(?<c>.*?)\n```\n<!-- language-models:code:end -->", RegexOptions.Singleline);
        Assert.True(region.Success, "no region in LanguageModelDocTests.cs");
        Assert.True(block.Success, "no language-models:code block in docs/language-models.md");
        Assert.Equal(region.Groups["c"].Value, block.Groups["c"].Value);
    }

    internal static void Example()
    {
// language-models:code:begin
string model = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), "models", "gpt2");
using var student = PretrainedCausalLm.FromPretrained(model);                     // all or nothing
var tokenizer = PretrainedTokenizer.FromDirectory(model);
var sequences = new SequenceOptions { MaxLength = 256 };                          // TRL's max_length
var sft = tokenizer.ToSupervisedDataset(
    DataFiles.ReadSftJsonl("sft.jsonl", ChatTemplate.ChatMl).Select(r => (r.Prompt, r.Completion)).ToList(), sequences: sequences);
var prefs = tokenizer.ToPreferenceDataset(DataFiles.ReadPreferenceJsonl("prefs.jsonl", ChatTemplate.ChatMl), sequences: sequences);
var adapters = Lora.Apply(student, new LoraOptions { Rank = 8, Alpha = 16, TargetModules = ["c_attn"] }, seed: 0);
using var reference = new AdapterDisabledReference(adapters);                      // the base model, no copy
using var optimizer = new AlternatingOptimizer(student, CompetenceObjectives.Create("nll"),
    ConformityObjectives.Create("sigmoid", beta: 0.1), new AlternatingOptimizerOptions { TotalSteps = 200 }, reference);
optimizer.Train(sft.Batches(8), prefs.Batches(8));
adapters.Save("out/adapter", model);                                               // PEFT's layout
student.SaveHuggingFace("out/full");                                               // or the whole model, same layout
// language-models:code:end
    }
}
