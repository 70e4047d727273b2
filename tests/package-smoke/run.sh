#!/usr/bin/env bash
# Packs Superalign and builds a fresh consumer project against it, as a user would (`dotnet add package Superalign`
# plus a backend). Running the consumer proves the package's build asset makes TorchSharp load on this system.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
dotnet pack "$root/src/Superalign/Superalign.csproj" -c Release -o "$work/feed" -p:Version=0.0.0-smoke
mkdir -p "$work/consumer"
# Outside the repository: none of the repository's Directory.* files apply.
cat > "$work/consumer/Consumer.csproj" <<'XML'
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
    <NoWarn>NU1603</NoWarn>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Superalign" Version="0.0.0-smoke" />
    <PackageReference Include="libtorch-cpu-linux-x64" Version="2.10.0" />
  </ItemGroup>
</Project>
XML
cp "$root/tests/package-smoke/Program.cs" "$work/consumer/Program.cs"
cat > "$work/consumer/nuget.config" <<XML
<configuration>
  <packageSources>
    <add key="local" value="$work/feed" />
  </packageSources>
</configuration>
XML
# The consumer's own nuget.config adds the local feed to the user's configured sources.
export NUGET_PACKAGES="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
rm -rf "$NUGET_PACKAGES/superalign/0.0.0-smoke"
dotnet run --project "$work/consumer/Consumer.csproj" -c Release
