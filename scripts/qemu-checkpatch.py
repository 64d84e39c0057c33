#!/usr/bin/env python3
"""QEMU's checkpatch on every patch of the QEMU series, warnings included.

Usage: qemu-checkpatch.py QEMU_SRC ALLOW_LIST PATCH...

Runs QEMU_SRC/scripts/checkpatch.pl on each PATCH. An ERROR always fails the
patch. A WARNING fails it too, unless ALLOW_LIST has an entry for it:

    FILE | MESSAGE | REASON

FILE is a glob matched against the file checkpatch names for the warning
('-' when it names none), MESSAGE the warning's text without 'WARNING: '
(exactly, or a glob), REASON why the warning is right to leave (required).
Lines starting with '#' and blank lines are comments. An entry that matches
no warning of the series fails too (a stale entry hides nothing any more and
must go), and so does an entry without a reason.

Prints 'PASS name' or 'FAIL name' per patch, details of a failure indented
below it; exits 1 on any failure.
"""
import fnmatch
import os
import re
import subprocess
import sys


def load_allow(path):
    entries = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            parts = [p.strip() for p in line.split(' | ')]
            entries.append({'line': n, 'file': parts[0] if parts else '',
                            'msg': parts[1] if len(parts) > 1 else '',
                            'reason': ' | '.join(parts[2:]) if len(parts) > 2 else '',
                            'used': 0})
    return entries


def findings(out):
    """(kind, message, file, context lines) for each ERROR/WARNING.

    A message may go on over several lines before the '#N: FILE:' line (the
    'added, moved or deleted file(s):' warning lists the files and asks
    about MAINTAINERS): those lines are part of the message, joined by
    spaces. The lines from the FILE line to the next blank one are context.
    """
    res = []
    lines = out.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r'^(ERROR|WARNING): (.*)$', line)
        if not m:
            continue
        msg, ctx, fname, in_ctx = [m.group(2).strip()], [], '-', False
        for nxt in lines[i + 1:i + 30]:
            if re.match(r'^(ERROR|WARNING|total):', nxt):
                break
            fm = re.match(r'^#\d+: FILE: ([^:]+):', nxt)
            if fm:
                fname, in_ctx = fm.group(1), True
            if in_ctx:
                if not nxt.strip():
                    break
                ctx.append(nxt)
            elif nxt.strip():
                msg.append(nxt.strip())
        res.append((m.group(1), ' '.join(msg), fname, ctx))
    return res


def main():
    src, allow_path = sys.argv[1], sys.argv[2]
    patches = [os.path.abspath(p) for p in sys.argv[3:]]
    if not os.path.isfile(allow_path):
        print('FAIL qemu checkpatch allow-list: %s does not exist' % allow_path)
        return 1
    allow = load_allow(allow_path)
    rc = 0
    for e in allow:
        if not e['reason']:
            print('FAIL qemu checkpatch allow-list: entry on line %d has no reason '
                  '(FILE | MESSAGE | REASON)' % e['line'])
            rc = 1
    if not patches:
        print('FAIL qemu checkpatch: no patches given')
        return 1
    for p in patches:
        name = os.path.basename(p)
        proc = subprocess.run(['./scripts/checkpatch.pl', '--no-color', p], cwd=src,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True)
        out = proc.stdout
        found = findings(out)
        bad, allowed = [], 0
        for kind, msg, fname, ctx in found:
            entry = None
            if kind == 'WARNING':
                for e in allow:
                    if e['reason'] and fnmatch.fnmatchcase(fname, e['file']) and \
                            (msg == e['msg'] or fnmatch.fnmatchcase(msg, e['msg'])):
                        entry = e
                        break
            if entry:
                entry['used'] += 1
                allowed += 1
            else:
                bad.append('%s: %s' % (kind, msg))
                bad.extend('  ' + c for c in ctx)
        if proc.returncode != 0 and not any(k == 'ERROR' for k, _, _, _ in found):
            bad.append('checkpatch.pl exited %d:' % proc.returncode)
            bad.extend(out.splitlines()[-5:])
        if not re.search(r'^total: \d+ errors, \d+ warnings', out, re.M) and \
                'has no obvious style problems' not in out:
            bad.append('checkpatch.pl printed no verdict:')
            bad.extend(out.splitlines()[-5:])
        note = ' (%d allowed warning%s, qemu/%s)' % (
            allowed, '' if allowed == 1 else 's', os.path.basename(allow_path)) if allowed else ''
        if bad:
            print('FAIL qemu checkpatch %s' % name)
            for b in bad[:20]:
                print('       ' + b)
            rc = 1
        else:
            print('PASS qemu checkpatch %s%s' % (name, note))
    for e in allow:
        if e['reason'] and not e['used']:
            print('FAIL qemu checkpatch allow-list: entry on line %d matches no warning '
                  'of the series (%s | %s): remove it' % (e['line'], e['file'], e['msg']))
            rc = 1
    return rc


if __name__ == '__main__':
    sys.exit(main())
