#!/usr/bin/env python3
"""Compares two protocol result.json files apart from timings.

Drops every key whose name holds "seconds" or "costratio" (wall times and ratios of wall times), optionally renames
keys (--rename=old=new, applied to both files: old names map to new ones), and compares the rest canonically: same keys, same values, same
order of list items, numbers compared as the text JSON wrote. Exit 0 when identical, 1 with the first differences."""
import json, sys

def strip(node, renames):
    if isinstance(node, dict):
        return {renames.get(k, k): strip(v, renames) for k, v in node.items()
                if 'seconds' not in k.lower() and 'costratio' not in k.lower()}
    if isinstance(node, list):
        return [strip(v, renames) for v in node]
    return node

def diff(a, b, path, out):
    if type(a) != type(b):
        out.append(f"{path}: {a!r} != {b!r}")
    elif isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{path}.{k}: only in {'second' if k not in a else 'first'}")
            else:
                diff(a[k], b[k], f"{path}.{k}", out)
    elif isinstance(a, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} items != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            diff(x, y, f"{path}[{i}]", out)
    elif a != b:
        out.append(f"{path}: {a!r} != {b!r}")

args = [a for a in sys.argv[1:] if not a.startswith('--rename=')]
renames = dict(a[len('--rename='):].split('=', 1) for a in sys.argv[1:] if a.startswith('--rename='))
first, second = (json.load(open(p), parse_float=str, parse_int=str) for p in args)
out = []
diff(strip(first, renames), strip(second, renames), '$', out)
print('identical apart from timings' if not out else '\n'.join(out[:40]) + (f'\n... {len(out)} differences' if len(out) > 40 else ''))
sys.exit(1 if out else 0)
