#!/usr/bin/env python3
"""Split a guest run's output into one TAP file per program and count.

Usage: tap-summary.py [--verdict VERDICT_FILE] OUTPUT_LOG RESULTS_DIR

OUTPUT_LOG holds each program's output between '### BEGIN NAME' and
'### END NAME STATUS' lines (written by the vm-test payload). Counts every
top-level TAP result: 'ok' is passed, 'ok ... # SKIP' is skipped, 'not ok' is
failed. Under the kselftest runner (run_kselftest.sh), each test program's
own results are nested one level ('# ok 1 ...'): those are counted instead,
and a top-level 'not ok' (the runner's verdict on a program: a crash, a
timeout) counts as one failure more where none of that program's nested
cases failed. A program that exits non-zero without a failed result, or whose END
line is missing (it crashed the guest or hung), counts as one failure more.
With --verdict, the verdict file boot.sh wrote for the run (boot, status,
splat) counts too: a kernel splat in the guest log is one failure more (its
reports, from splat.txt beside the verdict, are printed), and so is a missing
verdict (boot.sh did not get that far). Splat detection itself runs once, in
boot.sh.
Writes RESULTS_DIR/NAME.tap and RESULTS_DIR/counts ('passed failed skipped'),
prints a line per program and per failed or skipped case.
"""
import os
import re
import sys

NESTED = re.compile(r'^# (?=(?:not )?ok \d+)')
RESULT = re.compile(r'^(not )?ok \d+\s*(?:-\s*)?(.*?)(?:\s+#\s*(SKIP|TODO|XFAIL)\b\s*(.*))?$', re.I)


def read_verdict(path):
    v = {}
    for line in open(path):
        k, _, val = line.strip().partition('=')
        if k:
            v[k] = val
    return v


def main():
    args = sys.argv[1:]
    verdict = None
    if args[:1] == ['--verdict']:
        verdict, args = args[1], args[2:]
    log, outdir = args[0], args[1]
    programs = []
    cur = None
    for line in open(log, errors='replace'):
        line = line.rstrip('\r\n')
        m = re.match(r'^### BEGIN (\S+)$', line)
        if m:
            cur = {'name': m.group(1), 'lines': [], 'status': None}
            programs.append(cur)
            continue
        m = re.match(r'^### END (\S+) (\d+)$', line)
        if m and cur and m.group(1) == cur['name']:
            cur['status'] = int(m.group(2))
            cur = None
            continue
        if cur is not None:
            cur['lines'].append(line)

    total = [0, 0, 0]
    for p in programs:
        passed = failed = skipped = 0
        notes = []
        nested = any(NESTED.match(line) for line in p['lines'])
        group_failed = 0    # nested failures since the runner's last verdict
        for line in p['lines']:
            if nested:
                if NESTED.match(line):
                    line = line[2:]
                else:
                    # The runner's verdict on one program: counted only
                    # when none of that program's own cases failed.
                    m = RESULT.match(line)
                    if m and m.group(1) and (m.group(3) or '').upper() not in ('TODO', 'XFAIL') \
                            and group_failed == 0:
                        failed += 1
                        notes.append('    FAIL ' + m.group(2))
                    if m:
                        group_failed = 0
                    continue
            m = RESULT.match(line)
            if not m:
                continue
            directive = (m.group(3) or '').upper()
            if m.group(1):
                if directive in ('TODO', 'XFAIL'):
                    passed += 1
                else:
                    failed += 1
                    group_failed += 1
                    notes.append('    FAIL ' + m.group(2))
            elif directive == 'SKIP':
                skipped += 1
                notes.append('    SKIP %s: %s' % (m.group(2), m.group(4) or ''))
            else:
                passed += 1
        if p['status'] is None:
            failed += 1
            notes.append('    FAIL %s did not finish (crash or hang)' % p['name'])
        elif p['status'] not in (0, 4) and failed == 0:
            # kselftest exits 4 (KSFT_SKIP) when everything was skipped.
            failed += 1
            notes.append('    FAIL %s exited %d' % (p['name'], p['status']))
        with open('%s/%s.tap' % (outdir, p['name']), 'w') as f:
            f.write('\n'.join(p['lines']) + '\n')
        print('  %-28s %4d passed, %d failed, %d skipped' % (p['name'], passed, failed, skipped))
        for n in notes:
            print(n)
        total[0] += passed
        total[1] += failed
        total[2] += skipped
    if not programs:
        print('  no test program ran')
        total[1] += 1
    if verdict is not None:
        if not os.path.isfile(verdict):
            print('  FAIL no verdict from boot.sh (%s): the run did not get that far' % verdict)
            total[1] += 1
        elif read_verdict(verdict).get('splat') != 'no':
            print('  FAIL kernel splat in the guest log (%s)'
                  % os.path.join(os.path.dirname(verdict), 'kernel.log'))
            splat = os.path.join(os.path.dirname(verdict), 'splat.txt')
            if os.path.isfile(splat):
                for line in open(splat).read().splitlines()[:20]:
                    print('    ' + line)
            total[1] += 1
    with open(outdir + '/counts', 'w') as f:
        f.write('%d %d %d\n' % tuple(total))
    return 1 if total[1] else 0


if __name__ == '__main__':
    sys.exit(main())
