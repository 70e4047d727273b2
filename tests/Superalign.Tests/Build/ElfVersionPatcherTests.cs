using Superalign.Build;
using Xunit;

namespace Superalign.Tests.Build;

/// <summary>The native-load fix: weakens only what the system lacks, never touches the package cache.</summary>
public class ElfVersionPatcherTests
{
    private static string PackageLib()
    {
        string home = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        return Path.Combine(home, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
    }

    private static string OutputLib() =>
        Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");

    [Fact]
    public void Reads_the_libstdcxx_requirements_of_libtorchsharp()
    {
        var needs = ElfVersionPatcher.ReadVersionNeeds(File.ReadAllBytes(PackageLib()));
        Assert.Contains(needs, n => n.File == "libstdc++.so.6" && n.Version == "GLIBCXX_3.4.32");
        Assert.Contains(needs, n => n.File == "libc.so.6" && n.Version.StartsWith("GLIBC_2.", StringComparison.Ordinal));
    }

    [Fact]
    public void Weakens_exactly_the_versions_missing_from_the_system()
    {
        var bytes = File.ReadAllBytes(PackageLib());
        var all = ElfVersionPatcher.ReadVersionNeeds(bytes).Where(n => n.File == "libstdc++.so.6").Select(n => n.Version).ToHashSet();
        // A system that lacks exactly GLIBCXX_3.4.32 and CXXABI_1.3.13.
        var system = new HashSet<string>(all);
        system.Remove("GLIBCXX_3.4.32");
        system.Remove("CXXABI_1.3.13");
        var result = ElfVersionPatcher.WeakenMissing(bytes, system);
        Assert.Equal(new[] { "CXXABI_1.3.13", "GLIBCXX_3.4.32" }, result.Weakened.OrderBy(s => s, StringComparer.Ordinal));
        var after = ElfVersionPatcher.ReadVersionNeeds(bytes);
        Assert.All(after, n => Assert.Equal(n.Version is "GLIBCXX_3.4.32" or "CXXABI_1.3.13" && n.File == "libstdc++.so.6", n.Weak));
        // Idempotent: a second pass changes nothing.
        var again = ElfVersionPatcher.WeakenMissing(bytes, system);
        Assert.False(again.Changed);
        Assert.Equal(2, again.AlreadyWeak.Count);
    }

    [Fact]
    public void Does_nothing_when_the_system_has_every_version()
    {
        var bytes = File.ReadAllBytes(PackageLib());
        var original = (byte[])bytes.Clone();
        var all = ElfVersionPatcher.ReadVersionNeeds(bytes).Select(n => n.Version).ToHashSet();
        var result = ElfVersionPatcher.WeakenMissing(bytes, all);
        Assert.False(result.Changed);
        Assert.Equal(original, bytes);
    }

    [Fact]
    public void Reads_the_versions_the_system_libstdcxx_defines()
    {
        string? system = ElfVersionPatcher.FindSystemLibStdCxx();
        Assert.NotNull(system);
        var defined = ElfVersionPatcher.ReadDefinedVersions(File.ReadAllBytes(system!));
        Assert.Contains("GLIBCXX_3.4", defined);
        Assert.Contains("CXXABI_1.3", defined);
    }

    [Fact]
    public void Build_output_copy_matches_the_system_and_the_package_cache_is_untouched()
    {
        string? system = ElfVersionPatcher.FindSystemLibStdCxx();
        Assert.NotNull(system);
        var defined = ElfVersionPatcher.ReadDefinedVersions(File.ReadAllBytes(system!));
        var cache = ElfVersionPatcher.ReadVersionNeeds(File.ReadAllBytes(PackageLib()));
        var output = ElfVersionPatcher.ReadVersionNeeds(File.ReadAllBytes(OutputLib()));
        // The cache copy keeps every requirement strong.
        Assert.All(cache, n => Assert.False(n.Weak, $"{n.Version} is weak in the package cache"));
        // In the output copy, a libstdc++ requirement is weak exactly when the system lacks it.
        Assert.All(output, n => Assert.Equal(n.File == "libstdc++.so.6" && !defined.Contains(n.Version), n.Weak));
    }

    [Fact]
    public void Patch_replaces_the_file_so_a_hard_link_keeps_its_bytes()
    {
        string dir = Directory.CreateTempSubdirectory("superalign-elf-").FullName;
        try
        {
            string original = Path.Combine(dir, "original.so");
            string link = Path.Combine(dir, "link.so");
            File.Copy(PackageLib(), original);
            File.CreateSymbolicLink(Path.Combine(dir, "unused"), original); // symlinks are not followed by Patch
            Assert.Equal(0, Link(original, link));
            // A fake "system" that defines nothing: every libstdc++ requirement is missing.
            string fakeSystem = Path.Combine(dir, "libstdc++.so.6");
            File.Copy(PackageLib(), fakeSystem); // an ELF without .gnu.version_d defines no versions
            var result = ElfVersionPatcher.Patch(link, fakeSystem);
            Assert.True(result.Changed);
            Assert.All(ElfVersionPatcher.ReadVersionNeeds(File.ReadAllBytes(original)), n => Assert.False(n.Weak));
            Assert.Contains(ElfVersionPatcher.ReadVersionNeeds(File.ReadAllBytes(link)), n => n.Weak);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "link", SetLastError = true)]
    private static extern int Link(string oldPath, string newPath);

    [Fact]
    public void Rejects_a_file_that_is_not_elf()
    {
        Assert.Throws<InvalidDataException>(() => ElfVersionPatcher.ReadVersionNeeds(new byte[100]));
    }
}
