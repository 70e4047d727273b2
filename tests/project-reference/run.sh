#!/usr/bin/env bash
# A consumer OUTSIDE the repository with a ProjectReference to src/Superalign/Superalign.csproj (none of the
# repository's Directory.* files apply to it, so it does not import build/Superalign.targets) and the CPU backend:
# built and run, it proves that TorchSharp's native library loads there too (Debian 12 / Ubuntu 22.04 need the fix
# of docs/concepts.md). Its first TorchSharp call (manual_seed) comes before any Superalign type is touched.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/consumer"
cat > "$work/consumer/Consumer.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
    <NoWarn>NU1603</NoWarn>
  </PropertyGroup>
  <ItemGroup>
    <ProjectReference Include="$root/src/Superalign/Superalign.csproj" />
    <PackageReference Include="libtorch-cpu-linux-x64" Version="2.10.0" />
  </ItemGroup>
</Project>
XML
cp "$root/tests/package-smoke/Program.cs" "$work/consumer/Program.cs"
dotnet build "$work/consumer/Consumer.csproj" -c Release
dotnet "$work/consumer/bin/Release/net10.0/Consumer.dll"
