#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Adds up meson's testlog.json files into one closing line:
'N passed, N failed, N skipped'. Exits 1 if any test failed.

Before that line it repeats the end of each failed test's output (for a VM
lane: its FAIL lines with their details), so that a CI log cut to its last
lines still says why."""
import json
import sys

passed = failed = skipped = 0
failures = []
excerpts = []


def excerpt(out, limit=60):
    """The lines that say why a test failed: a lane's FAIL lines and what
    follows each, else the output's last lines."""
    lines = out.splitlines()
    picked = []
    for i, line in enumerate(lines):
        if line.startswith("FAIL "):
            picked += lines[i:i + 25]
    return (picked or lines)[-limit:]


for path in sys.argv[1:]:
    try:
        with open(path) as f:
            lines = f.readlines()
    except OSError as e:
        print(f"summary: {path}: {e}", file=sys.stderr)
        failed += 1
        continue
    for line in lines:
        t = json.loads(line)
        r = t.get("result")
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
            failures.append(f"{path.split('/')[0]}: {t.get('name')} ({r})")
            excerpts.append((failures[-1], excerpt(t.get("stdout") or "")))
for name, lines in excerpts:
    print(f"--- the end of {name}:")
    for line in lines:
        print("   ", line)
for f in failures:
    print("FAILED:", f)
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
