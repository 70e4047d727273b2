#!/usr/bin/env bash
# The README's install route, literally: its "Use it in your training code" commands run as they are written, from
# the repository root, for a user whose home holds nothing but an empty console project (~/your-project, made by
# `dotnet new console`). Then that project runs a few alternating steps with the package (tests/package-smoke's
# Program.cs), which proves the package restores from the local feed and TorchSharp's native library loads.
#
# HOME is a fresh temporary directory, so the user's NuGet.Config is new (the feed is added to it, as the README
# says) and nothing of the real home is touched; NUGET_PACKAGES stays the machine's package cache so that TorchSharp
# and libtorch are not downloaded again (Superalign 0.1.0 is removed from it first, so the freshly packed one is used).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
export NUGET_PACKAGES="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
real_home="$HOME"
cleanup() { rm -rf "$work" "$NUGET_PACKAGES/superalign/0.1.0"; }
trap cleanup EXIT

# The README's block: the first ```bash block after the "Use it in your training code" heading.
block="$(awk '/^## Use it in your training code/ {section = 1} section && /^```bash/ {inside = 1; next} inside && /^```/ {exit} inside {print}' "$root/README.md")"
[ -n "$block" ] || { echo "install-route: no bash block under 'Use it in your training code' in README.md" >&2; exit 1; }
echo "install-route: the README's commands:"
echo "$block"

export HOME="$work/home"
mkdir -p "$HOME/.nuget/NuGet"
# The machine's own package sources (nuget.org or a mirror), as a user on this machine would have them.
if [ -f "$real_home/.nuget/NuGet/NuGet.Config" ]; then cp "$real_home/.nuget/NuGet/NuGet.Config" "$HOME/.nuget/NuGet/NuGet.Config"; fi
rm -rf "$NUGET_PACKAGES/superalign/0.1.0"
mkdir "$HOME/your-project"
(cd "$HOME/your-project" && dotnet new console --framework net10.0 >/dev/null)

cd "$root"
bash -euo pipefail -c "$block"

# The user's code: a few alternating steps through the package's public API.
cp "$root/tests/package-smoke/Program.cs" "$HOME/your-project/Program.cs"
grep -q '<PackageReference Include="Superalign" Version="0.1.0"' "$HOME/your-project/your-project.csproj"
grep -q '<PackageReference Include="libtorch-cpu-linux-x64" Version="2.10.0"' "$HOME/your-project/your-project.csproj"
dotnet run --project "$HOME/your-project" -c Release
