#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The library's layers, checked on what the linker sees.

lib/ is one folder per layer (docs/ARCHITECTURE.md) and a folder calls only
the folders below it:

    devices  ->  stream, storage, alloc, core
    stream   ->  alloc, core
    storage  ->  core
    alloc    ->  core
    core     ->  (nothing)

storage and stream never call each other. Calls upwards go through
registered callbacks (function pointers), which the linker does not see and
this check does not forbid.

Usage: check-layers.py NM ARCHIVE
Reads every object of the static archive with nm, maps each defined symbol
to the folder of the object defining it (objects are named FOLDER_FILE.c.o
by meson), and fails listing every reference that climbs a layer.
"""
import subprocess
import sys

ALLOWED = {
    'core': set(),
    'alloc': {'core'},
    'storage': {'core'},
    'stream': {'core', 'alloc'},
    'devices': {'core', 'alloc', 'stream', 'storage'},
}


def folder_of(obj):
    name = obj.rsplit('/', 1)[-1]
    folder = name.split('_', 1)[0]
    if folder not in ALLOWED:
        raise SystemExit(f'check-layers: object {name} is in no known layer folder '
                         f'({", ".join(sorted(ALLOWED))}): add it to ALLOWED')
    return folder


def main():
    nm, archive = sys.argv[1], sys.argv[2]
    out = subprocess.run([nm, '-A', archive], check=True, capture_output=True,
                         text=True).stdout
    defined = {}   # symbol -> (folder, object)
    undefined = []  # (folder, object, symbol)
    for line in out.splitlines():
        # "archive:object.o: [address] TYPE symbol"
        parts = line.split()
        if len(parts) < 2 or ':' not in parts[0]:
            continue
        obj = parts[0].split(':')[1]
        kind, sym = parts[-2], parts[-1]
        folder = folder_of(obj)
        if kind == 'U':
            undefined.append((folder, obj, sym))
        elif kind in 'TDBRC' or kind in 'tdbr':
            if kind.isupper():
                defined[sym] = (folder, obj)
    bad = []
    edges = set()
    for folder, obj, sym in undefined:
        if sym not in defined:
            continue  # libc, liburing, libdrm...
        to, where = defined[sym]
        if to == folder:
            continue
        edges.add((folder, to))
        if to not in ALLOWED[folder]:
            bad.append(f'{obj} ({folder}) calls {sym} of {where} ({to})')
    for e in sorted(edges):
        print(f'{e[0]} -> {e[1]}')
    if bad:
        print(f'{len(bad)} references climb a layer:', file=sys.stderr)
        for b in sorted(bad):
            print('  ' + b, file=sys.stderr)
        return 1
    print(f'{len(undefined)} references checked; every cross-folder call goes down a layer')
    return 0


if __name__ == '__main__':
    sys.exit(main())
