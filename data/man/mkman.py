#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the dmapipe(1) and dmapipe-CMD(1) manual pages from the tool's own
--help texts, so a page cannot say something the installed tool does not.

    mkman.py TOOL VERSION OUTPUT [CMD]

Without CMD: dmapipe(1) from `TOOL --help`; with CMD: dmapipe-CMD(1) from
`TOOL CMD --help`, its one-line summary taken from the command list of
`TOOL --help`. The date is SOURCE_DATE_EPOCH's (reproducible builds), else
today's.

The help texts follow one layout (tools/): a Usage block, paragraphs, then
"Heading:" lines at column 0 (Options:, Commands:, Elements:) with indented
entries; option entries are "-s, --long ARG  description" with description
lines indented further. Indented text outside an option list is an example
and is kept as it is (no filling).
"""
import datetime
import os
import re
import subprocess
import sys

OPTION = re.compile(r'^(\s+)(-\S.*?)(?:\s{2,}(\S.*))?$')
COMMAND = re.compile(r'^\s+([a-z][a-z0-9-]*)\s{2,}(\S.*)$')
HEADING = re.compile(r'^([A-Z][A-Za-z ]*):$')
DOCS = re.compile(r'docs/[A-Z0-9_-]+\.md')


def run_help(tool, cmd):
    args = [tool] + ([cmd] if cmd else []) + ['--help']
    out = subprocess.run(args, check=True, stdout=subprocess.PIPE,
                         universal_newlines=True).stdout
    if not out.strip():
        sys.exit('mkman: %s printed no help' % ' '.join(args))
    return out.rstrip('\n').split('\n')


def esc(text):
    """Escapes text for roff: backslashes, minus signs (options must copy
    and paste as ASCII '-'), and a leading control character."""
    text = text.replace('\\', '\\e').replace('-', '\\-')
    if text.startswith(('.', "'")):
        text = '\\&' + text
    return text


def option_term(term):
    """'-s, --socket PATH' -> bold option names, italic placeholders."""
    out = []
    for word in re.split(r'(,? )', term):
        if word in (', ', ' ', ''):
            out.append(word)
        elif word.startswith('-'):
            name, eq, arg = word.partition('=')
            out.append('\\fB' + esc(name) + '\\fR' + (('=\\fI' + esc(arg) + '\\fR') if eq else ''))
        else:
            out.append('\\fI' + esc(word) + '\\fR')
    return ''.join(out)


def split_blocks(lines):
    """Splits the text after the Usage block into (heading, lines) blocks:
    heading None for the description before the first heading."""
    blocks = [[None, []]]
    for line in lines:
        m = HEADING.match(line)
        if m:
            blocks.append([m.group(1), []])
        else:
            blocks[-1][1].append(line)
    return blocks


def paragraphs(lines):
    """Groups lines into paragraphs separated by blank lines."""
    para = []
    for line in lines:
        if line.strip():
            para.append(line)
        elif para:
            yield para
            para = []
    if para:
        yield para


def text_block(lines, out):
    """Column-0 lines are filled text; runs of indented lines are examples,
    kept as they are."""
    for para in paragraphs(lines):
        out.append('.PP')
        i = 0
        while i < len(para):
            if para[i].startswith(' '):
                j = i
                while j < len(para) and para[j].startswith(' '):
                    j += 1
                indent = min(len(l) - len(l.lstrip()) for l in para[i:j])
                out += ['.RS', '.nf'] + [esc(l[indent:]) for l in para[i:j]] + ['.fi', '.RE']
                i = j
            else:
                out.append(esc(para[i]))
                i += 1


def trailing_text(lines, out):
    """Column-0 paragraphs after a list: the exit status gets its section,
    an example is kept as it is, anything else is a paragraph of NOTES."""
    notes = False
    split = []
    for para in paragraphs(lines):
        k = next((k for k, l in enumerate(para) if k and l.startswith('Exit status')), None)
        split += [para[:k], para[k:]] if k else [para]
    for para in split:
        first = para[0]
        if first.startswith('Exit status'):
            out.append('.SH "EXIT STATUS"')
            m = re.match(r'Exit status:\s*(.*)', first)
            text_block(([m.group(1)] if m else [first]) + para[1:], out)
        elif first.startswith('Example:'):
            out.append('.SH EXAMPLE')
            lines = [first[len('Example:'):].strip()] + [l.strip() for l in para[1:]]
            out += ['.PP', '.nf'] + ['  ' * (k > 0) + esc(l) for k, l in enumerate(lines)] + ['.fi']
        else:
            if not notes:
                out.append('.SH NOTES')
                notes = True
            text_block(para, out)


def option_block(lines, out):
    """An option list: each option a .TP entry, description lines joined;
    an indented line that is not an option and sits left of the
    descriptions ("With --device:") heads the options after it."""
    i = 0
    rest = []
    while i < len(lines):
        line = lines[i]
        m = OPTION.match(line)
        if not line.strip():
            i += 1
            continue
        if not line.startswith(' '):
            rest = lines[i:]
            break
        if not m:
            out += ['.PP', '\\fI' + esc(line.strip()) + '\\fR']
            i += 1
            continue
        indent = len(m.group(1))
        out += ['.TP', option_term(m.group(2).strip())]
        desc = [m.group(3)] if m.group(3) else []
        i += 1
        while i < len(lines) and lines[i].startswith(' ') and \
                len(lines[i]) - len(lines[i].lstrip()) > indent + 4 and \
                not OPTION.match(lines[i]):
            desc.append(lines[i].strip())
            i += 1
        out += [esc(d) for d in desc]
    trailing_text(rest, out)


def command_block(lines, out, summaries):
    i = 0
    while i < len(lines) and lines[i].strip():
        m = COMMAND.match(lines[i])
        if not m:
            sys.exit('mkman: cannot read the command line %r' % lines[i])
        summaries[m.group(1)] = m.group(2)
        out += ['.TP', '\\fB%s\\fR' % esc(m.group(1)),
                esc(m.group(2)) + ': \\fB\\%%%s\\fR(1)' % esc('dmapipe-' + m.group(1))]
        i += 1
    trailing_text(lines[i:], out)


def usage(lines, cmd):
    """The Usage block -> SYNOPSIS: the command in bold, the rest in roman."""
    if not lines or not lines[0].startswith('Usage: '):
        sys.exit('mkman: the help of %s does not start with "Usage: "' % (cmd or 'dmapipe'))
    forms = [lines[0][len('Usage: '):]]
    i = 1
    while i < len(lines) and lines[i].startswith(' ') and lines[i].strip().startswith('dmapipe'):
        forms.append(lines[i].strip())
        i += 1
    out = ['.SH SYNOPSIS']
    prog = 'dmapipe' + (' ' + cmd if cmd else '')
    for k, form in enumerate(forms):
        if not form.startswith(prog):
            sys.exit('mkman: usage %r does not start with %r' % (form, prog))
        if k:
            out.append('.br')
        out.append('.B %s' % esc(prog))
        args = form[len(prog):].strip()
        if args:
            out.append(esc(args))
    return out, lines[i:]


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    tool, version, output = sys.argv[1:4]
    cmd = sys.argv[4] if len(sys.argv) == 5 else None

    main_help = run_help(tool, None)
    summaries = {}
    main_body = []
    synopsis, rest = usage(main_help, None)
    for heading, lines in split_blocks(rest):
        if heading == 'Commands':
            command_block(lines, main_body, summaries)
    if cmd and cmd not in summaries:
        sys.exit('mkman: "%s" is not in the command list of dmapipe --help' % cmd)

    if cmd:
        help_lines = run_help(tool, cmd)
        synopsis, rest = usage(help_lines, cmd)
        name = 'dmapipe-' + cmd
        summary = summaries[cmd]
    else:
        help_lines = main_help
        name = 'dmapipe'
        first = next(l for l in rest if l.strip())
        summary = first.split(' (')[0].rstrip('.')
        summary = summary[0].lower() + summary[1:]

    body = []
    for heading, lines in split_blocks(rest):
        if heading is None:
            body.append('.SH DESCRIPTION')
            text_block(lines, body)
        elif heading == 'Commands':
            body.append('.SH COMMANDS')
            command_block(lines, body, {})
        elif heading == 'Options':
            body.append('.SH OPTIONS')
            option_block(lines, body)
        elif any(OPTION.match(l) for l in lines):
            body.append('.SH ' + esc(heading.upper()))
            option_block(lines, body)
        else:
            body.append('.SH ' + esc(heading.upper()))
            text_block(lines, body)

    text = '\n'.join(help_lines)
    if cmd:
        see = ['dmapipe'] + sorted({'dmapipe-' + c for c in re.findall(r'dmapipe (\w+)', text)
                                    if c in summaries and c != cmd})
    else:
        see = ['dmapipe-' + c for c in summaries]
    body.append('.SH "SEE ALSO"')
    body.append(',\n'.join('.BR \\%%%s (1)' % esc(p) for p in see))
    docs = sorted(set(DOCS.findall(text)))
    if docs or not cmd:
        body.append('.PP')
        body.append(esc('The documents of the source tree (%s), installed by the Debian '
                        'package in /usr/share/doc/dmapipe/.' %
                        (', '.join(docs) if docs else 'docs/*.md')))

    epoch = os.environ.get('SOURCE_DATE_EPOCH')
    when = (datetime.datetime.utcfromtimestamp(int(epoch)) if epoch
            else datetime.datetime.utcnow()).strftime('%Y-%m-%d')
    page = ['.\\" Generated by data/man/mkman.py from `%s --help`: edit tools/, not this file.'
            % ' '.join(['dmapipe'] + ([cmd] if cmd else [])),
            '.TH %s 1 %s "dmapipe %s" "User Commands"' % (esc(name.upper()), when, esc(version)),
            '.SH NAME',
            '%s \\- %s' % (esc(name), esc(summary))]
    page += synopsis + body
    with open(output, 'w') as f:
        f.write('\n'.join(page) + '\n')


if __name__ == '__main__':
    main()
