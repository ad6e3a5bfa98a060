#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every usage example in README.md is run by a test.

The README's usage section shows `dmapipe` command lines. This test reads
each one and looks for a test script that runs the same subcommand with at
least the same options (short and long spellings are the same option, as
the subcommand's own --help says; for `run`, the same elements with the same
keys). Values may differ: tests use their own sockets, sizes and files. An
example no test runs fails this test, naming the example, so the README
cannot show a command line nobody tries.

Usage: test-readme.py DMAPIPE SOURCE_ROOT
"""
import os
import re
import shlex
import subprocess
import sys

TOOL_TOKENS = ('$DMAPIPE', '${DMAPIPE}', '$TOOL', '${TOOL}', 'dmapipe')


def readme_examples(path):
    """The dmapipe command lines of the README's usage section, joined."""
    text = open(path, encoding='utf-8').read()
    start = text.index('## Usage')
    end = text.find('### From C', start)
    section = text[start:end if end > 0 else len(text)]
    examples = []
    for block in re.findall(r'```sh\n(.*?)```', section, re.S):
        joined = re.sub(r'\\\n\s*', ' ', block)
        for line in joined.splitlines():
            line = line.strip()
            if not line.startswith('dmapipe '):
                continue
            line = re.sub(r'\s+#.*$', '', line)  # a comment after the command
            examples.append(line)
    return examples


def script_invocations(root):
    """(subcommand, tokens) of every dmapipe command line in the tests."""
    found = []
    for dirpath, _, files in os.walk(os.path.join(root, 'tests')):
        for name in files:
            path = os.path.join(dirpath, name)
            if not (name.endswith('.sh') or name.endswith('.py') or
                    os.access(path, os.X_OK)):
                continue
            try:
                text = open(path, encoding='utf-8').read()
            except (UnicodeDecodeError, OSError):
                continue
            text = re.sub(r'\\\n\s*', ' ', text)
            for line in text.splitlines():
                try:
                    tokens = shlex.split(line, comments=True, posix=False)
                except ValueError:
                    tokens = line.split()
                if tokens and tokens[0] == 'run_pair':
                    # test-tool.sh's run_pair NAME FRAMES SERVE-ARGS -- CONSUME-ARGS
                    args = [t.strip('"\'') for t in tokens[3:]]
                    cut = args.index('--') if '--' in args else len(args)
                    # and what run_pair itself passes to each side
                    found.append(('serve', args[:cut] + ['--socket', '--frames',
                                                         '--wait-consumers', '--json']))
                    found.append(('consume', args[cut + 1:] + ['--socket', '--timeout',
                                                               '--json']))
                    continue
                for i, tok in enumerate(tokens):
                    if tok.strip('"\'') in TOOL_TOKENS and i + 1 < len(tokens):
                        rest = [t.strip('"\'') for t in tokens[i + 1:]]
                        if rest and re.fullmatch(r'[a-z][a-z-]*', rest[0]):
                            found.append((rest[0], rest[1:]))
    return found


def aliases(tool, cmd, cache={}):
    """Short option -> long option, from `dmapipe CMD --help`."""
    if cmd not in cache:
        out = subprocess.run([tool, cmd, '--help'], capture_output=True,
                             text=True).stdout
        cache[cmd] = dict(re.findall(r'-(\w), --([\w-]+)', out))
    return cache[cmd]


def options(tool, cmd, tokens):
    """The set of options (long names) or, for run, element:key pairs."""
    found = set()
    short = aliases(tool, cmd)
    for tok in tokens:
        if cmd == 'run' and re.match(r'^[a-z]+=', tok):
            elem, _, value = tok.partition('=')
            found.add(elem)
            for part in value.split(',')[1:]:
                found.add(elem + ':' + part.split('=', 1)[0])
        elif tok.startswith('--'):
            found.add(tok[2:].split('=', 1)[0])
        elif re.fullmatch(r'-\w+', tok):
            for ch in tok[1:]:
                found.add(short.get(ch, ch))
    return found


def main():
    tool, root = sys.argv[1], sys.argv[2]
    examples = readme_examples(os.path.join(root, 'README.md'))
    runs = script_invocations(root)
    missing = []
    for ex in examples:
        tokens = shlex.split(ex)
        cmd = tokens[1]
        want = options(tool, cmd, tokens[2:])
        if not any(c == cmd and want <= options(tool, c, t) for c, t in runs):
            best = max((options(tool, c, t) & want for c, t in runs if c == cmd),
                       key=len, default=set())
            missing.append((ex, sorted(want - best)))
    for ex, lack in missing:
        print(f'not run by any test: {ex}\n    (closest test lacks: {", ".join(lack)})')
    print(f'{len(examples) - len(missing)} of {len(examples)} README examples are run by a test')
    return 1 if missing else 0


if __name__ == '__main__':
    sys.exit(main())
