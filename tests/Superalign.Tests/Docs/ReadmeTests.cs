using Xunit;
using System.Text.RegularExpressions;

namespace Superalign.Tests.Docs;

/// <summary>
/// The README's quickstart code is the region of <c>samples/Quickstart/Program.cs</c> between
/// <c>// quickstart:begin</c> and <c>// quickstart:end</c>; the build compiles the sample, this test keeps the two equal,
/// so documented API cannot rot.
/// </summary>
public sealed class ReadmeTests
{
    internal static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Superalign.sln")))
                return dir.FullName;
        throw new InvalidOperationException($"Superalign.sln not found above {AppContext.BaseDirectory}.");
    }

    private static string[] Normalize(string code) =>
        code.Replace("\r\n", "\n").Split('\n').Select(l => l.TrimEnd()).Where(l => l.Length > 0).ToArray();

    internal static string SampleRegion(string program)
    {
        var m = Regex.Match(program, @"//\s*quickstart:begin[^\n]*\n(?<code>.*?)\n[ \t]*//\s*quickstart:end", RegexOptions.Singleline);
        if (!m.Success) throw new InvalidOperationException("samples/Quickstart/Program.cs has no quickstart:begin/end region.");
        return m.Groups["code"].Value;
    }

    internal static string ReadmeBlock(string readme)
    {
        var m = Regex.Match(readme, @"<!--\s*quickstart:begin\s*-->\s*```csharp\n(?<code>.*?)```\s*<!--\s*quickstart:end\s*-->", RegexOptions.Singleline);
        if (!m.Success) throw new InvalidOperationException("README.md has no ```csharp block between <!-- quickstart:begin --> and <!-- quickstart:end -->.");
        return m.Groups["code"].Value;
    }

    [Fact]
    public void Readme_quickstart_code_is_the_compiled_sample_region()
    {
        var root = RepoRoot();
        var sample = Normalize(SampleRegion(File.ReadAllText(Path.Combine(root, "samples", "Quickstart", "Program.cs"))));
        var readme = Normalize(ReadmeBlock(File.ReadAllText(Path.Combine(root, "README.md"))));
        Assert.True(sample.Length > 10, $"the sample region is suspiciously short ({sample.Length} lines)");
        Assert.Equal(sample, readme);
    }

    [Fact]
    public void Region_extraction_detects_a_difference()
    {
        const string program = "x\n// quickstart:begin\nvar a = 1;\nvar b = 2;\n// quickstart:end\n";
        const string readme = "text\n<!-- quickstart:begin -->\n```csharp\nvar a = 1;\nvar b = 3;\n```\n<!-- quickstart:end -->\n";
        Assert.Equal(new[] { "var a = 1;", "var b = 2;" }, Normalize(SampleRegion(program)));
        Assert.NotEqual(Normalize(SampleRegion(program)), Normalize(ReadmeBlock(readme)));
    }

    [Fact]
    public void Readme_names_the_two_setup_commands_that_ci_runs()
    {
        var root = RepoRoot();
        var readme = File.ReadAllText(Path.Combine(root, "README.md"));
        var ci = File.ReadAllText(Path.Combine(root, ".ci", "run"));
        const string test = "dotnet test Superalign.sln -c Release";
        Assert.Contains("dotnet run --project samples/Quickstart -c Release", readme);
        Assert.Contains(test, readme);
        Assert.Contains(test, ci);
    }
}

/// <summary>docs/extending.md shows the code of <c>ExtendingExamples.cs</c> region by region.</summary>
public sealed class ExtendingDocTests
{
    [Theory]
    [InlineData("objective")]
    [InlineData("competence")]
    [InlineData("schedule")]
    [InlineData("student")]
    [InlineData("protocol")]
    [InlineData("source")]
    public void Extending_doc_shows_the_tested_code(string name)
    {
        string root = ReadmeTests.RepoRoot();
        var code = File.ReadAllText(Path.Combine(root, "tests", "Superalign.Tests", "Docs", "ExtendingExamples.cs")).Replace("\r\n", "\n");
        var doc = File.ReadAllText(Path.Combine(root, "docs", "extending.md")).Replace("\r\n", "\n");
        var region = Regex.Match(code, $@"// extending:{name}:begin\n(?<c>.*?)\n// extending:{name}:end", RegexOptions.Singleline);
        var block = Regex.Match(doc, $@"<!-- extending:{name}:begin -->\n```csharp\n(?<c>.*?)\n```\n<!-- extending:{name}:end -->", RegexOptions.Singleline);
        Assert.True(region.Success, $"no '{name}' region in ExtendingExamples.cs");
        Assert.True(block.Success, $"no '{name}' block in docs/extending.md");
        Assert.Equal(region.Groups["c"].Value, block.Groups["c"].Value);
    }
}
