#!/usr/bin/env python3
"""Compare the ABI of a UAPI header at base and at the series head.

Usage: uapi-layout.py BASE_BIN HEAD_BIN BASE_MACROS HEAD_MACROS

BASE_BIN and HEAD_BIN are objects compiled with -g from the installed header
(as scripts/check-uapi.sh compiles them); *_MACROS the header's 'gcc -E -dM'.
The rules, those of a DRM UAPI:
- every struct or union of base keeps each member at the same offset with the
  same size and type (pahole); a struct may grow only by members appended
  after its old end (a DRM ioctl argument grows that way: drm_ioctl()
  zero-fills what an older binary does not pass);
- every enumerator of base keeps its value (DWARF, readelf);
- every macro of base keeps its definition (new ones are fine).
Prints one line per breach and exits 1 when there is any; prints what it
compared and exits 0 otherwise.
"""
import re
import subprocess
import sys


def layouts(binary):
    out = subprocess.run(['pahole', '--suppress_aligned_attribute', binary],
                         stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    res, cur, name = {}, None, None
    for line in out.splitlines():
        m = re.match(r'^(struct|union) (\S+) \{$', line)
        if m:
            name, cur = '%s %s' % m.groups(), {'members': [], 'size': None}
            continue
        if cur is None:
            continue
        m = re.match(r'^\t(\S.*?);\s+/\*\s+(\d+)(?::\d+)?\s+(\d+)\s+\*/', line)
        if m:
            decl = re.sub(r'\s+', ' ', m.group(1))
            cur['members'].append((decl, int(m.group(2)), int(m.group(3))))
            continue
        m = re.search(r'/\* size: (\d+)', line)
        if m:
            cur['size'] = int(m.group(1))
        if line == '};':
            if cur['size'] is None:  # pahole prints no size for a union
                cur['size'] = max([o + s for _, o, s in cur['members']] or [0])
            res[name] = cur
            cur = None
    return res


def enums(binary):
    out = subprocess.run(['readelf', '--debug-dump=info', binary],
                         stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    res, enum, level, tag, name = {}, None, None, None, None
    for line in out.splitlines():
        m = re.match(r'^\s*<(\d+)><[0-9a-f]+>: Abbrev Number: \d+ \((DW_TAG_\w+)\)', line)
        if m:
            lvl, tag = int(m.group(1)), m.group(2)
            if tag == 'DW_TAG_enumeration_type':
                enum, level = '<anonymous>', lvl
            elif enum is not None and lvl <= level:
                enum = None
            name = None
            continue
        m = re.match(r'^\s*<[0-9a-f]+>\s+DW_AT_name\s*:\s*(?:\(indirect string, offset: 0x[0-9a-f]+\): )?(\S+)', line)
        if m:
            name = m.group(1)
            if tag == 'DW_TAG_enumeration_type':
                enum = name
            continue
        m = re.match(r'^\s*<[0-9a-f]+>\s+DW_AT_const_value\s*:\s*(-?\w+)', line)
        if m and tag == 'DW_TAG_enumerator' and enum is not None and name:
            res['%s::%s' % (enum, name)] = m.group(1)
    return res


def macros(path):
    res = {}
    for line in open(path):
        m = re.match(r'^#define (\S+)(?: (.*))?$', line.rstrip('\n'))
        if m:
            res[m.group(1)] = (m.group(2) or '').strip()
    return res


def main():
    base_bin, head_bin, base_mac, head_mac = sys.argv[1:5]
    bad = []
    bl, hl = layouts(base_bin), layouts(head_bin)
    for name, b in sorted(bl.items()):
        h = hl.get(name)
        if h is None:
            bad.append('%s: removed' % name)
            continue
        if h['size'] < b['size']:
            bad.append('%s: size %d -> %d' % (name, b['size'], h['size']))
        hm = {m[0]: m for m in h['members']}
        for decl, off, size in b['members']:
            got = hm.get(decl)
            if got is None:
                bad.append('%s: member "%s" (offset %d) removed or retyped' % (name, decl, off))
            elif (got[1], got[2]) != (off, size):
                bad.append('%s: member "%s" moved from offset %d size %d to offset %d size %d'
                           % (name, decl, off, size, got[1], got[2]))
        old = {m[0] for m in b['members']}
        for decl, off, size in h['members']:
            if decl not in old and off < b['size']:
                bad.append('%s: new member "%s" at offset %d, inside the old size %d (only '
                           'appending is compatible)' % (name, decl, off, b['size']))
    be, he = enums(base_bin), enums(head_bin)
    for k, v in sorted(be.items()):
        if k not in he:
            bad.append('enumerator %s removed' % k)
        elif he[k] != v:
            bad.append('enumerator %s: %s -> %s' % (k, v, he[k]))
    bm, hm_ = macros(base_mac), macros(head_mac)
    for k, v in sorted(bm.items()):
        if k not in hm_:
            bad.append('macro %s removed' % k)
        elif hm_[k] != v:
            bad.append('macro %s: "%s" -> "%s"' % (k, v, hm_[k]))
    if not bl or not bm:
        bad.append('nothing compared (no struct or no macro found at base): the check is broken')
    for b in bad:
        print(b)
    if not bad:
        print('%d structs/unions, %d enumerators, %d macros of base unchanged (%d structs grew at their end)'
              % (len(bl), len(be), len(bm),
                 sum(1 for n in bl if n in hl and hl[n]['size'] > bl[n]['size'])))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
