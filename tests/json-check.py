#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks dmapipe --json documents against docs/JSON.md's common keys.

Usage: json-check.py FILE COMMAND [RESULT [CODE]]
FILE holds one document, or (stats --watch --json) one per line. Each must
start with schema, command, result, error in that order, with the schema
this checker knows, COMMAND as its command, a result of the enum, an error
that is null exactly when the result is ok or interrupted and otherwise a
{code, message} of the enum; keys are lower_snake_case and a pixel format
is "fourcc", never "format". RESULT and CODE, when given, must match
(RESULT "ok" also accepts nothing else). Exits 1 with the reason.
"""
import json
import re
import sys

SCHEMA = 1
RESULTS = {"ok", "interrupted", "failed", "disk-full", "error"}
CODES = {
    "usage", "no-socket", "not-a-socket", "no-producer", "permission", "timeout",
    "disconnected", "producer-error", "not-found", "exists", "busy", "unsupported",
    "device", "io", "disk-full", "damaged", "verify-failed", "strict", "no-memory",
    "not-installed", "internal",
}
# a result a code leads to (docs/JSON.md); the others lead to "error"
RESULT_OF = {"verify-failed": "failed", "damaged": "failed", "strict": "failed",
             "disk-full": "disk-full"}
KEY = re.compile(r"^[a-z][a-z0-9_]*$")
FOURCC_NAMES = re.compile(r"^[A-Z0-9_]{2,12}$")


def walk(value, path, problems):
    if isinstance(value, dict):
        for k, v in value.items():
            if not KEY.match(k):
                problems.append("%s: key %r is not lower_snake_case" % (path, k))
            if k == "fourcc" and v is not None and not (isinstance(v, str) and FOURCC_NAMES.match(v)):
                problems.append("%s.fourcc: %r is not a DRM format name" % (path, v))
            walk(v, path + "." + k, problems)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            walk(v, "%s[%d]" % (path, i), problems)


def check(doc, command, want_result, want_code):
    problems = []
    if not isinstance(doc, dict):
        return ["not an object"]
    keys = list(doc.keys())
    if keys[:4] != ["schema", "command", "result", "error"]:
        problems.append("starts with %s, not schema, command, result, error" % keys[:4])
    if doc.get("schema") != SCHEMA or isinstance(doc.get("schema"), bool):
        problems.append("schema %r, expected %d" % (doc.get("schema"), SCHEMA))
    if doc.get("command") != command:
        problems.append("command %r, expected %r" % (doc.get("command"), command))
    result = doc.get("result")
    if result not in RESULTS:
        problems.append("result %r is not one of %s" % (result, sorted(RESULTS)))
    err = doc.get("error", "missing")
    if result in ("ok", "interrupted"):
        if err is not None:
            problems.append("result %r with error %r" % (result, err))
    elif not isinstance(err, dict) or set(err.keys()) != {"code", "message"}:
        problems.append("result %r: error %r is not {code, message}" % (result, err))
    else:
        if err["code"] not in CODES:
            problems.append("error code %r is not one of docs/JSON.md's" % err["code"])
        if not isinstance(err["message"], str) or not err["message"]:
            problems.append("error message %r" % err["message"])
        if RESULT_OF.get(err["code"], "error") != result:
            problems.append("error code %r with result %r" % (err["code"], result))
    if "format" in doc and isinstance(doc["format"], str) and FOURCC_NAMES.match(doc["format"]):
        problems.append("a pixel format under \"format\": docs/JSON.md says \"fourcc\"")
    if want_result and result != want_result:
        problems.append("result %r, expected %r" % (result, want_result))
    if want_code and (not isinstance(err, dict) or err.get("code") != want_code):
        problems.append("error %r, expected code %r" % (err, want_code))
    walk(doc, "$", problems)
    return problems


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    path, command = sys.argv[1], sys.argv[2]
    want_result = sys.argv[3] if len(sys.argv) > 3 else None
    want_code = sys.argv[4] if len(sys.argv) > 4 else None
    text = open(path).read()
    try:
        docs = [json.loads(text)]
    except json.JSONDecodeError:
        try:
            docs = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as e:
            sys.exit("%s: not JSON (%s): %r" % (path, e, text[:300]))
    if not docs:
        sys.exit("%s: no document (--json must print one, a failure too)" % path)
    for i, doc in enumerate(docs):
        problems = check(doc, command, want_result, want_code)
        if problems:
            sys.exit("%s (document %d): %s\n%s" % (path, i + 1, "; ".join(problems),
                                                 json.dumps(doc, indent=1)[:2000]))


if __name__ == "__main__":
    main()
