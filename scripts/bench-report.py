#!/usr/bin/env python3
"""Tabulate and plot the output of guest/userptr-bench.c.

Usage: bench-report.py OUTPUT_LOG RESULTS_DIR

Reads the JSON document the benchmark printed, writes RESULTS_DIR/bench.json
and RESULTS_DIR/bench.png (gnuplot), and prints a table with each goal beside
its figure. Goals are reported, never asserted.
"""
import json
import os
import subprocess
import sys


def load(path):
    text = open(path, errors='replace').read()
    start = text.index('{\n')
    end = text.rindex('\n}') + 2
    return json.loads(text[start:end])


def size(b):
    return '%d KiB' % (b >> 10) if b < (1 << 20) else '%d MiB' % (b >> 20)


def us(x):
    return '%.0f us' % x if x < 10000 else '%.1f ms' % (x / 1000)


def main():
    data = load(sys.argv[1])
    out = sys.argv[2]
    json.dump(data, open(os.path.join(out, 'bench.json'), 'w'), indent=2)

    lines = []
    p = lines.append
    p('Registration + release (median of %d, min..max), userptr against io_uring fixed buffers:' % data['reps'])
    p('  %-4s %-8s %28s %28s %7s  goal' % ('THP', 'size', 'userptr', 'io_uring', 'ratio'))
    for r in data['register']:
        u, i = r['userptr'], r['io_uring']
        ratio = u['median_us'] / i['median_us']
        goal = ''
        if r['bytes'] >= (1 << 20):
            goal = '<= 1.25x %s' % ('met' if ratio <= 1.25 else 'MISSED')
        p('  %-4s %-8s %10s (%s..%s) %10s (%s..%s) %6.2fx  %s' % (
            'on' if r['thp'] else 'off', size(r['bytes']),
            us(u['median_us']), us(u['min_us']), us(u['max_us']),
            us(i['median_us']), us(i['min_us']), us(i['max_us']), ratio, goal))
    a = data['at_64MiB']
    rt = data['ratios']
    p('')
    p('64 MiB, THP on: userptr register+release %s; copy path (blob create, map, memcpy, close) %s' % (
        us(a['userptr']['median_us']), us(a['copy_path']['median_us'])))
    p('  userptr is %.1fx faster than the copy path  (goal >= 5x: %s)' % (
        rt['userptr_vs_copy_64MiB'], 'met' if rt['userptr_vs_copy_64MiB'] >= 5 else 'MISSED'))
    rv = data['revocation_16MiB']
    p('Revocation of 16 MiB until unpinned: munmap %s, explicit close %s: %.2fx  (goal <= 1.5x: %s)' % (
        us(rv['munmap']['median_us']), us(rv['close']['median_us']), rt['revoke_vs_close'],
        'met' if rt['revoke_vs_close'] <= 1.5 else 'MISSED'))
    e = data['entries']
    p('Memory entries: THP 1 GiB %d entries for %d contiguous runs (goal equal: %s); scattered 64 MiB %d for %d runs' % (
        e['thp_1GiB'], e['runs_thp_1GiB'], 'met' if e['thp_1GiB'] == e['runs_thp_1GiB'] else 'MISSED',
        e['scattered_64MiB'], e['runs_scattered_64MiB']))
    lv = data['live']
    p('Register+close of one page with 1 / 100 / 10000 live: %s / %s / %s: %.2fx  (goal <= 1.2x: %s)' % (
        us(lv['1']), us(lv['100']), us(lv['10000']), rt['live10k_vs_live1'],
        'met' if rt['live10k_vs_live1'] <= 1.2 else 'MISSED'))
    p('Ratios: ' + ', '.join('%s=%.3f' % kv for kv in sorted(rt.items())))
    small = [r for r in data['register'] if r['bytes'] == 4096 and not r['thp']][0]
    why = []
    if any(r['bytes'] >= (1 << 20) and r['userptr']['median_us'] > 1.25 * r['io_uring']['median_us']
           for r in data['register']):
        why.append('Registration: a userptr pays two synchronous host round trips that io_uring does not\n'
                   '  (the answer to RESOURCE_CREATE_BLOB, so that a refusal reaches the caller, and the answer\n'
                   '  to RESOURCE_UNREF, before the pages may be unpinned): %s at 4 KiB, where pinning costs\n'
                   '  %s. Under TCG a round trip costs about half a millisecond; under KVM it should cost\n'
                   '  far less (not measurable here: no KVM). The pinning itself tracks io_uring (THP off,\n  64 MiB and up). To close the gap:\n'
                   '  measure under KVM, or batch registrations so that one round trip serves many.'\
                   % (us(small['userptr']['median_us']), us(small['io_uring']['median_us'])))
    if rt['revoke_vs_close'] > 1.5:
        why.append('Revocation: the revoke worker must first be scheduled, then waits for fences and for the\n'
                   '  host\'s answer itself, where an explicit close unpins straight from the answer\'s callback.\n'
                   '  To close the gap: let the worker send RESOURCE_UNREF and unpin from its callback too.')
    if rt['live10k_vs_live1'] > 1.2:
        why.append('Live registrations: QEMU\'s 2D device finds a resource by walking a linked list\n'
                   '  (virtio_gpu_find_resource()), so every command costs O(live resources) on the host; the\n'
                   '  guest side (interval tree, handle IDR) is logarithmic. To close the gap: a hash table of\n'
                   '  resources in QEMU.')
    if why:
        p('')
        p('Why goals were missed, and what would close them:')
        for w in why:
            p('- ' + w)
    table = '\n'.join(lines)
    print(table)
    open(os.path.join(out, 'bench.txt'), 'w').write(table + '\n')

    dat = os.path.join(out, 'bench.dat')
    with open(dat, 'w') as f:
        for thp in (False, True):
            f.write('# thp=%s bytes userptr_us io_uring_us\n' % thp)
            for r in data['register']:
                if r['thp'] == thp:
                    f.write('%d %f %f\n' % (r['bytes'], r['userptr']['median_us'], r['io_uring']['median_us']))
            f.write('\n\n')
    script = '''set terminal pngcairo size 900,600 noenhanced
set output '%s'
set title 'Registration + release, median of %d (guest under TCG)'
set logscale xy
set xlabel 'bytes'
set ylabel 'microseconds'
set key left top
plot '%s' index 0 using 1:2 with linespoints title 'userptr, THP off', \\
     '%s' index 0 using 1:3 with linespoints title 'io_uring, THP off', \\
     '%s' index 1 using 1:2 with linespoints title 'userptr, THP on', \\
     '%s' index 1 using 1:3 with linespoints title 'io_uring, THP on'
''' % (os.path.join(out, 'bench.png'), data['reps'], dat, dat, dat, dat)
    subprocess.run(['gnuplot'], input=script, text=True, check=True)
    print('\nbench: %s, %s, %s' % (os.path.join(out, 'bench.json'), os.path.join(out, 'bench.txt'),
                                  os.path.join(out, 'bench.png')))


if __name__ == '__main__':
    main()
