#!/usr/bin/env python3
"""Turn one KUnit suite's KTAP in a guest kernel log into a TAP section.

Usage: kunit-tap.py KERNEL_LOG SUITE

KUnit runs the built-in suites at boot and prints nested KTAP to the
kernel log. Prints a '### BEGIN kunit-SUITE' ... '### END kunit-SUITE N'
section (the format of the vm-test payload, read by tap-summary.py) with
one top-level result per leaf case (a parameterised case's rows are the
leaves), and a failure when the suite is absent from the log (it did not
run: KUnit disabled, the test not built) or when it has no case at all.
"""
import re
import sys

LINE = re.compile(r'^(?:\[[ 0-9.]+\] )?( *)(.*)$')
RESULT = re.compile(r'^(not )?ok \d+ (.*)$')


def main():
    log, suite = sys.argv[1], sys.argv[2]
    lines = [LINE.match(l.rstrip('\r\n')).groups() for l in open(log, errors='replace')]
    start = end = None
    for i, (ind, text) in enumerate(lines):
        if start is None and text == '# Subtest: ' + suite:
            start, depth = i, len(ind)
        elif start is not None and len(ind) < depth and RESULT.match(text) and \
                RESULT.match(text).group(2).split(' #')[0] == suite:
            end = i
            break
    out = ['### BEGIN kunit-' + suite]
    n = 0
    if start is None or end is None:
        out.append('not ok 1 - KUnit suite %s did not run (or did not finish)' % suite)
        n = 1
    else:
        block = lines[start + 1:end]
        for k, (ind, text) in enumerate(block):
            m = RESULT.match(text)
            if not m:
                continue
            # A result that closes a nested subtest is not a leaf.
            prev = next((b for b in reversed(block[:k]) if b[1] and not b[1].startswith('#')), None)
            if prev and len(prev[0]) > len(ind):
                continue
            n += 1
            out.append('%sok %d - %s' % (m.group(1) or '', n, m.group(2)))
        if n == 0:
            out.append('not ok 1 - KUnit suite %s ran no case' % suite)
    out.append('### END kunit-%s 0' % suite)
    print('\n'.join(out))


if __name__ == '__main__':
    main()
