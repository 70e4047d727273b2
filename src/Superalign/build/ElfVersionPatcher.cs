// Marks the libstdc++ symbol-version requirements of a shared library that the system's libstdc++ does not define
// as *weak* (VER_FLG_WEAK in the Vernaux entry of .gnu.version_r). The glibc loader then only warns about them
// instead of refusing to load the library.
//
// Why: TorchSharp's libLibTorchSharp.so is linked against GCC 13's libstdc++ and so requires GLIBCXX_3.4.32, whose
// only symbol it uses (std::ios_base_library_init) is a link-time marker that is never called. Debian 12 and
// Ubuntu 22.04 ship libstdc++ up to GLIBCXX_3.4.30 and refuse to load it.
//
// This file is compiled twice: as an MSBuild inline task (build/Superalign.targets, through RoslynCodeTaskFactory)
// and into the test project with SUPERALIGN_ELF_PATCHER_NO_TASK defined. It only depends on the BCL.
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace Superalign.Build
{
    /// <summary>Outcome of <see cref="ElfVersionPatcher.Patch"/>.</summary>
    public sealed class ElfPatchResult
    {
        /// <summary>Version names whose requirement was made weak by this call.</summary>
        public List<string> Weakened { get; } = new List<string>();

        /// <summary>Version names that were missing from the system library but already weak.</summary>
        public List<string> AlreadyWeak { get; } = new List<string>();

        /// <summary>True when the file was rewritten.</summary>
        public bool Changed => Weakened.Count > 0;
    }

    /// <summary>Reads ELF64 little-endian symbol-version tables and weakens unsatisfiable requirements.</summary>
    public static class ElfVersionPatcher
    {
        private const uint ShtGnuVerdef = 0x6ffffffd;
        private const uint ShtGnuVerneed = 0x6ffffffe;
        private const ushort VerFlgWeak = 0x2;

        /// <summary>Standard places of the system's libstdc++.so.6 on x86-64 and arm64 Linux distributions.</summary>
        public static readonly string[] SystemLibStdCxxCandidates =
        {
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
            "/usr/lib64/libstdc++.so.6",
            "/lib64/libstdc++.so.6",
            "/usr/lib/libstdc++.so.6",
        };

        /// <summary>The first existing system libstdc++.so.6, or null.</summary>
        public static string? FindSystemLibStdCxx()
        {
            foreach (var candidate in SystemLibStdCxxCandidates)
            {
                if (File.Exists(candidate)) return candidate;
            }
            return null;
        }

        /// <summary>The version names a shared library defines (its .gnu.version_d section).</summary>
        public static HashSet<string> ReadDefinedVersions(byte[] elf)
        {
            var result = new HashSet<string>(StringComparer.Ordinal);
            foreach (var section in Sections(elf))
            {
                if (section.Type != ShtGnuVerdef) continue;
                var strtab = Sections(elf)[(int)section.Link];
                long offset = section.Offset;
                for (int guard = 0; guard < 4096; guard++)
                {
                    // Elf64_Verdef: vd_version u16, vd_flags u16, vd_ndx u16, vd_cnt u16, vd_hash u32, vd_aux u32, vd_next u32
                    uint aux = U32(elf, offset + 12);
                    uint next = U32(elf, offset + 16);
                    // First Verdaux: vda_name u32, vda_next u32
                    uint name = U32(elf, offset + aux);
                    result.Add(CString(elf, strtab.Offset + name));
                    if (next == 0) break;
                    offset += next;
                }
            }
            return result;
        }

        /// <summary>One requirement of .gnu.version_r: the library file, the version name and whether it is weak.</summary>
        public readonly struct VersionNeed
        {
            /// <summary>Creates a record of one requirement.</summary>
            public VersionNeed(string file, string version, bool weak, long flagsOffset)
            {
                File = file;
                Version = version;
                Weak = weak;
                FlagsOffset = flagsOffset;
            }

            /// <summary>The needed library, e.g. libstdc++.so.6.</summary>
            public string File { get; }

            /// <summary>The version name, e.g. GLIBCXX_3.4.32.</summary>
            public string Version { get; }

            /// <summary>Whether VER_FLG_WEAK is set.</summary>
            public bool Weak { get; }

            /// <summary>File offset of the vna_flags field.</summary>
            public long FlagsOffset { get; }
        }

        /// <summary>All version requirements of a shared library.</summary>
        public static List<VersionNeed> ReadVersionNeeds(byte[] elf)
        {
            var result = new List<VersionNeed>();
            var sections = Sections(elf);
            foreach (var section in sections)
            {
                if (section.Type != ShtGnuVerneed) continue;
                var strtab = sections[(int)section.Link];
                long need = section.Offset;
                for (int guard = 0; guard < 4096; guard++)
                {
                    // Elf64_Verneed: vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32
                    ushort count = U16(elf, need + 2);
                    string file = CString(elf, strtab.Offset + U32(elf, need + 4));
                    long aux = need + U32(elf, need + 8);
                    for (int i = 0; i < count; i++)
                    {
                        // Elf64_Vernaux: vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32
                        ushort flags = U16(elf, aux + 4);
                        string name = CString(elf, strtab.Offset + U32(elf, aux + 8));
                        result.Add(new VersionNeed(file, name, (flags & VerFlgWeak) != 0, aux + 4));
                        uint nextAux = U32(elf, aux + 12);
                        if (nextAux == 0) break;
                        aux += nextAux;
                    }
                    uint next = U32(elf, need + 12);
                    if (next == 0) break;
                    need += next;
                }
            }
            return result;
        }

        /// <summary>
        /// Weakens, in <paramref name="elf"/>, every requirement on <c>libstdc++.so.6</c> whose version is not in
        /// <paramref name="systemVersions"/>. Returns what was done; <paramref name="elf"/> is modified in place.
        /// </summary>
        public static ElfPatchResult WeakenMissing(byte[] elf, ISet<string> systemVersions)
        {
            var result = new ElfPatchResult();
            foreach (var need in ReadVersionNeeds(elf))
            {
                if (!need.File.StartsWith("libstdc++", StringComparison.Ordinal)) continue;
                if (systemVersions.Contains(need.Version)) continue;
                if (need.Weak)
                {
                    result.AlreadyWeak.Add(need.Version);
                    continue;
                }
                ushort flags = U16(elf, need.FlagsOffset);
                flags |= VerFlgWeak;
                elf[need.FlagsOffset] = (byte)(flags & 0xff);
                elf[need.FlagsOffset + 1] = (byte)(flags >> 8);
                result.Weakened.Add(need.Version);
            }
            return result;
        }

        /// <summary>
        /// Patches the file at <paramref name="path"/> against the given system libstdc++. The patched bytes are
        /// written to a new file that then replaces the original, so a hard link into a package cache is never
        /// modified.
        /// </summary>
        public static ElfPatchResult Patch(string path, string systemLibStdCxx)
        {
            var system = ReadDefinedVersions(File.ReadAllBytes(systemLibStdCxx));
            var bytes = File.ReadAllBytes(path);
            var result = WeakenMissing(bytes, system);
            if (result.Changed)
            {
                string temp = path + ".superalign-tmp";
                File.WriteAllBytes(temp, bytes);
                // Unlink, then rename: a hard link into a package cache keeps its original bytes.
                File.Delete(path);
                File.Move(temp, path);
            }
            return result;
        }

        private readonly struct Section
        {
            public Section(uint type, long offset, uint link)
            {
                Type = type;
                Offset = offset;
                Link = link;
            }

            public uint Type { get; }
            public long Offset { get; }
            public uint Link { get; }
        }

        private static List<Section> Sections(byte[] elf)
        {
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
                throw new InvalidDataException("Not an ELF file.");
            if (elf[4] != 2 || elf[5] != 1)
                throw new InvalidDataException("Only 64-bit little-endian ELF files are supported.");
            long shoff = (long)U64(elf, 0x28);
            ushort shentsize = U16(elf, 0x3A);
            ushort shnum = U16(elf, 0x3C);
            var sections = new List<Section>(shnum);
            for (int i = 0; i < shnum; i++)
            {
                long header = shoff + (long)i * shentsize;
                // Elf64_Shdr: sh_name u32, sh_type u32, sh_flags u64, sh_addr u64, sh_offset u64, sh_size u64, sh_link u32
                sections.Add(new Section(U32(elf, header + 4), (long)U64(elf, header + 24), U32(elf, header + 40)));
            }
            return sections;
        }

        private static ushort U16(byte[] b, long o) => (ushort)(b[o] | (b[o + 1] << 8));

        private static uint U32(byte[] b, long o) => (uint)(b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24));

        private static ulong U64(byte[] b, long o) => U32(b, o) | ((ulong)U32(b, o + 4) << 32);

        private static string CString(byte[] b, long o)
        {
            long end = o;
            while (end < b.Length && b[end] != 0) end++;
            return Encoding.ASCII.GetString(b, (int)o, (int)(end - o));
        }
    }

#if !SUPERALIGN_ELF_PATCHER_NO_TASK
    /// <summary>MSBuild task: weakens unsatisfiable libstdc++ version requirements of the given native files.</summary>
    public sealed class SuperalignWeakenGlibcxxVersions : Microsoft.Build.Utilities.Task
    {
        /// <summary>The native libraries to patch (copies in an output folder, never package-cache files).</summary>
        [Microsoft.Build.Framework.Required]
        public Microsoft.Build.Framework.ITaskItem[] Files { get; set; } = Array.Empty<Microsoft.Build.Framework.ITaskItem>();

        /// <summary>Path of the system libstdc++.so.6; found in the standard places when empty.</summary>
        public string? SystemLibStdCxx { get; set; }

        /// <summary>The files of <see cref="Files"/> that needed the fix: patched by this call, or patched already.</summary>
        [Microsoft.Build.Framework.Output]
        public Microsoft.Build.Framework.ITaskItem[] Patched { get; private set; } = Array.Empty<Microsoft.Build.Framework.ITaskItem>();

        /// <inheritdoc />
        public override bool Execute()
        {
            string? system = string.IsNullOrEmpty(SystemLibStdCxx) ? ElfVersionPatcher.FindSystemLibStdCxx() : SystemLibStdCxx;
            if (system == null)
            {
                Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low, "Superalign: no system libstdc++.so.6 found; nothing to patch.");
                return true;
            }
            var patched = new List<Microsoft.Build.Framework.ITaskItem>();
            foreach (var item in Files)
            {
                string path = item.ItemSpec;
                if (!File.Exists(path)) continue;
                try
                {
                    var result = ElfVersionPatcher.Patch(path, system);
                    if (result.Changed || result.AlreadyWeak.Count > 0) patched.Add(item);
                    if (result.Changed)
                        Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Normal,
                            $"Superalign: marked {string.Join(", ", result.Weakened)} weak in {path} (missing from {system}).");
                }
                catch (Exception ex) when (ex is IOException || ex is InvalidDataException || ex is UnauthorizedAccessException)
                {
                    Log.LogWarning($"Superalign: could not patch {path}: {ex.Message}");
                }
            }
            Patched = patched.ToArray();
            return !Log.HasLoggedErrors;
        }
    }
#endif
}
