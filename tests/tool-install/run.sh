#!/usr/bin/env bash
# The command line as a user installs it: pack the tool package, `dotnet tool install` it from a local folder into a
# fresh tool path, then run `superalign list`, a one-seed run of a small sandwiching configuration, its charts' source
# (result.json) and a bad option (exit code 2). Run from anywhere; uses a temporary directory.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet pack "$root/src/Superalign.Cli/Superalign.Cli.csproj" -c Release -o "$work/feed" -p:Version=0.0.0-tool
cd "$work"
dotnet tool install --tool-path "$work/tools" --add-source "$work/feed" Superalign.Cli --version 0.0.0-tool
superalign="$work/tools/superalign"
"$superalign" list | tee "$work/list.txt"
grep -q '^sandwiching ' "$work/list.txt"
"$superalign" run sandwiching --seeds 0 --set trainSize=300 --set testSize=200 --set judgeSteps=60 --set expertSteps=40 \
  --set bootstrapResamples=50 --out "$work/run"
test -s "$work/run/result.json"
# The options the run used are in its result, with the settings applied.
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); o=r["options"]; assert o["seeds"]==[0] and o["trainSize"]==300, o; assert len(r["seedResults"])==1' "$work/run/result.json"
set +e
"$superalign" run sandwiching --threads 0 2>"$work/bad.txt"
code=$?
set -e
if [ "$code" -ne 2 ] || ! grep -q -- '--threads' "$work/bad.txt"; then
  echo "expected exit code 2 naming --threads, got $code: $(cat "$work/bad.txt")" >&2
  exit 1
fi
echo "tool install: ok"
