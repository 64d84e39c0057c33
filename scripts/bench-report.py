#!/usr/bin/env python3
"""Statistics, goals, table, JSON and plots of guest/userptr-bench.c.

Usage: bench-report.py RESULTS_DIR OUTPUT_LOG ENV_FILE RSS_FILE [ERROR]
       bench-report.py RESULTS_DIR --error MESSAGE ENV_FILE

Reads the "BENCH {json}" lines the benchmark printed (raw samples), computes
p50/p99/min/max, ratios and goals, and writes RESULTS_DIR/bench.json (always
valid JSON: a non-finite number becomes null), bench.txt (the table printed
on stdout) and one plot per family (bench-sizes.png, bench-live.png,
bench-teardown.png). A missed goal prints its cause computed from the
figures. Goals are reported, never asserted. With --error, only bench.json
is written, saying what failed.
"""
import json
import math
import os
import statistics
import subprocess
import sys

GOALS = [
    # key, text, comparison, threshold
    ('register_64MiB', 'register+release vs io_uring, 64 MiB, THP off, caller-visible', '<=', 1.10),
    ('slope', 'per-page slope vs io_uring (fit 1..256 MiB, THP off)', '<=', 1.05),
    ('fixed_cost', 'registration fixed cost (4 KiB) in host round trips', '<=', 1.2),
    ('revoke', 'revoke vs explicit close, until unpinned, 16 MiB', '<=', 1.2),
    # The row above is the issue's: its close side never unmaps the range.
    # This one compares the same end state (range unmapped, pages unpinned).
    ('revoke_same_end', 'revoke vs close then munmap, until both done, 16 MiB', '<=', 1.2),
    ('live', 'create+close with 10000 live vs 1 live', '<=', 1.05),
    ('copy', 'fair copy (staging blob + memcpy) vs userptr, 64 MiB, THP off', '>=', 3.0),
    ('host_read', 'host read through the mapping vs native memcpy, 64 MiB', '>=', 0.9),
    # The row above is the issue's: for a scattered range its native side
    # is one contiguous memcpy. This one compares like for like: a native
    # copy of the same pieces, in the mapping's range sizes, shuffled.
    ('host_read_same_pieces', 'host read through the mapping vs native copy of the same pieces, 64 MiB', '>=', 0.9),
    ('teardown', 'teardown at exit: per registration at 10000 vs at 1000', '<=', 1.2),
]


def finite(x):
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


def clean(o):
    """The document with every non-finite number replaced by None."""
    if isinstance(o, dict):
        return {k: clean(v) for k, v in o.items()}
    if isinstance(o, list):
        return [clean(v) for v in o]
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return o


def div(a, b):
    if not finite(a) or not finite(b) or b == 0:
        return None
    return a / b


def stats(v):
    v = sorted(x for x in v if finite(x))
    if not v:
        return None
    n = len(v)

    def rank(p):  # nearest rank
        return v[min(n - 1, max(0, math.ceil(p * n) - 1))]
    return {'n': n, 'p50': rank(0.50), 'p99': rank(0.99), 'min': v[0], 'max': v[-1],
            'mean': sum(v) / n}


def p50(s):
    return s['p50'] if s else None


def us(x):
    if not finite(x):
        return 'n/a'
    if abs(x) >= 10000:
        return '%.1f ms' % (x / 1000)
    if abs(x) >= 100:
        return '%.0f us' % x
    return '%.1f us' % x


def cell(s):
    """p50 (p99; min..max)"""
    if not s:
        return 'n/a'
    return '%s (%s; %s..%s)' % (us(s['p50']), us(s['p99']), us(s['min']), us(s['max']))


def worker_runs(rv):
    """What the revocation family's kprobe count of the userptr worker says."""
    wr = (rv or {}).get('worker_runs_per_revoke')
    if not isinstance(wr, (int, float)) or not finite(wr):
        return None
    return 'the userptr worker ran %.2f times per revocation (%s)' % (
        wr, 'the MMU notifier sent RESOURCE_UNREF itself' if wr < 0.05 else 'it sent RESOURCE_UNREF')


def fit(xs, ys):
    """Least-squares slope and intercept."""
    n = len(xs)
    if n < 2:
        return None, None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None, None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return slope, my - slope * mx


def size(b):
    return '%d KiB' % (b >> 10) if b < (1 << 20) else '%d MiB' % (b >> 20)


def read_kv(path):
    env = {}
    if path and os.path.exists(path):
        for line in open(path, errors='replace'):
            k, _, v = line.rstrip('\n').partition(' ')
            if k:
                env[k] = v
    return env


def load(path):
    points = []
    for line in open(path, errors='replace'):
        line = line.strip()
        if line.startswith('BENCH {'):
            points.append(json.loads(line[len('BENCH '):]))
    return points


def write_json(out, doc):
    with open(os.path.join(out, 'bench.json.tmp'), 'w') as f:
        json.dump(clean(doc), f, indent=1, allow_nan=False)
        f.write('\n')
    os.replace(os.path.join(out, 'bench.json.tmp'), os.path.join(out, 'bench.json'))


def analyse(points, env, rss):
    """Everything but the raw samples: stats per side, ratios, goals with causes."""
    fam = {}
    for p in points:
        fam.setdefault(p['family'], []).append(p)
    for p in points:
        # QEMU's own times of the host read (nanoseconds, host clock).
        h = p.get('host') if p['family'] == 'host_read' else None
        if isinstance(h, dict):
            p['host_mapped_us'] = [x / 1000 for x in h.get('mapped-ns', [])]
            p['host_native_us'] = [x / 1000 for x in h.get('native-ns', [])]
            p['host_shuffled_us'] = [x / 1000 for x in h.get('shuffled-ns', [])]
        p['stats'] = {k[:-3]: stats(v) for k, v in p.items() if k.endswith('_us') and isinstance(v, list)}

    one = lambda f, **kw: next((p for p in fam.get(f, []) if all(p.get(k) == v for k, v in kw.items())), None)
    st = lambda p, side: p['stats'].get(side) if p else None

    rt = one('roundtrip')
    rt_us = p50(st(rt, 'control'))
    res = {'round_trip_us': rt_us}
    goals = {}

    def goal(key, value, cause, detail=None):
        g = next(g for g in GOALS if g[0] == key)
        met = None
        if finite(value):
            met = value <= g[3] if g[2] == '<=' else value >= g[3]
        goals[key] = {'metric': g[1], 'goal': '%s %g' % (g[2], g[3]), 'value': value, 'met': met,
                      'cause': None if met or met is None else cause, 'detail': detail}

    # Registration, 64 MiB, THP off.
    reg = {(p['thp'], p['bytes']): p for p in fam.get('register', [])}
    r64, r4k = reg.get((False, 64 << 20)), reg.get((False, 4096))
    u64, i64 = p50(st(r64, 'userptr_caller')), p50(st(r64, 'io_uring'))
    u4, i4 = p50(st(r4k, 'userptr_caller')), p50(st(r4k, 'io_uring'))
    fixed = (u4 - i4) if finite(u4) and finite(i4) else None
    # Slopes, THP off, 1 MiB and up.
    pts = sorted((b, p) for (t, b), p in reg.items() if not t and b >= (1 << 20))
    xs = [b / (1 << 20) for b, _ in pts]
    su, iu = fit(xs, [p50(st(p, 'userptr_caller')) for _, p in pts])
    si, ii = fit(xs, [p50(st(p, 'io_uring')) for _, p in pts])
    res['slope_us_per_MiB'] = {'userptr': su, 'io_uring': si, 'intercept_userptr_us': iu, 'intercept_io_uring_us': ii}
    extra = (u64 - i64) if finite(u64) and finite(i64) else None
    perpage = (64 * (su - si)) if finite(su) and finite(si) else None
    goal('register_64MiB', div(u64, i64),
         'userptr takes %s more than io_uring (%s against %s): its 4 KiB fixed cost is %s (%s host round trips of %s), '
         'and its per-page slope is %s/MiB against %s/MiB, which at 64 MiB adds %s'
         % (us(extra), us(u64), us(i64), us(fixed), '%.2f' % div(fixed, rt_us) if finite(div(fixed, rt_us)) else 'n/a',
            us(rt_us), us(su), us(si), us(perpage)))
    goal('slope', div(su, si),
         'pinning and describing the pages costs %s per MiB (%.0f ns per 4 KiB page) more than io_uring\'s pin '
         '(%s/MiB against %s/MiB)'
         % (us((su or 0) - (si or 0)), ((su or 0) - (si or 0)) * 1000 / 256, us(su), us(si)))

    # Fixed cost in round trips.
    ru = p50(st(rt, 'userptr_caller'))
    ri = p50(st(rt, 'io_uring'))
    sub = p50(st(rt, 'control_submit'))
    goal('fixed_cost', div(ru, rt_us),
         '4 KiB register+release returns after %s, %.2f host round trips of %s (control: a 1x1 2D resource created, '
         'its fence waited for, closed; %s of that is the create ioctl before the wait); io_uring pins and unpins the '
         'same page in %s, so %s is the driver and the host beyond one round trip'
         % (us(ru), div(ru, rt_us) or float('nan'), us(rt_us), us(sub), us(ri), us((ru or 0) - (rt_us or 0))))

    rv = one('revoke')
    mu, cu = p50(st(rv, 'munmap_unpinned')), p50(st(rv, 'close_unpinned'))
    mv, cv = p50(st(rv, 'munmap_caller')), p50(st(rv, 'close_caller'))
    bv, bu = p50(st(rv, 'close_munmap_caller')), p50(st(rv, 'close_munmap_done'))
    md = p50(st(rv, 'munmap_done'))
    who = worker_runs(rv) or 'the userptr worker runs were not counted'
    goal('revoke', div(mu, cu),
         'after munmap the pages are unpinned %s after the call started (munmap itself returns after %s); after a '
         'close, %s (close returns after %s): revocation costs %s more, %.2f host round trips; %s'
         % (us(mu), us(mv), us(cu), us(cv), us((mu or 0) - (cu or 0)), div((mu or 0) - (cu or 0), rt_us) or float('nan'),
            who)
         + ('; close then munmap, the same end state, is done after %s, so %s of the difference is the munmap '
            'that the close side leaves out' % (us(bu), us((bu or 0) - (cu or 0))) if finite(bu) else ''))
    goal('revoke_same_end', div(md, bu),
         'munmap of the registered range has returned and its pages are unpinned %s after the call started (p50s '
         'of each: %s and %s); close then munmap return after %s, both done %s: revocation costs %s more, %.2f host '
         'round trips; %s; munmap waits for nothing of ours'
         % (us(md), us(mv), us(mu), us(bv), us(bu), us((md or 0) - (bu or 0)), div((md or 0) - (bu or 0), rt_us) or float('nan'),
            who))

    lv = {p['live']: p for p in fam.get('live', [])}
    l1, l1k, l10k = (p50(st(lv.get(n), 'userptr_caller')) for n in (1, 1000, 10000))
    m1, m10k = (p50(st(lv.get(n), 'munmap_other')) for n in (1, 10000))
    per_live = div((l10k or 0) - (l1k or 0), 9000)
    res['live_rounds_ns_per_registration'] = per_live * 1000 if finite(per_live) else None
    # The goal's figure comes from the alternating blocks (1, 10000, 1, ...):
    # each sample in control round trips (the create+close over the control
    # command that followed it), a block's p50 of those, each 10000-live
    # block against the mean of the 1-live blocks on either side, and the
    # median of those ratios. No blocks: not measured.
    def against_neighbours(v):
        return [div(v[i], ((v[i - 1] or 0) + (v[i + 1] or 0)) / 2) for i in range(1, len(v) - 1, 2)]

    lp = one('live_pairs')
    pair = None
    if lp:
        brt = [p50(stats([div(u, c) for u, c in zip(b['userptr_caller_us'], b['control_us'])]))
               for b in lp['blocks']]
        bus = [p50(stats(b['userptr_caller_us'])) for b in lp['blocks']]
        pair = {'ratios': against_neighbours(brt), 'ratios_in_us': against_neighbours(bus),
                'block_p50_rt_1_live': brt[0::2], 'block_p50_rt_max_live': brt[1::2],
                'block_p50_us_1_live': bus[0::2], 'block_p50_us_max_live': bus[1::2]}
        res['live_pairs'] = pair
    a = stats(pair['ratios']) if pair else None
    cause = None
    if a:
        pair.update(median=statistics.median(r for r in pair['ratios'] if finite(r)), min=a['min'], max=a['max'])
        s1, s2 = stats(pair['block_p50_us_1_live']), stats(pair['block_p50_us_max_live'])
        r1, r2 = stats(pair['block_p50_rt_1_live']), stats(pair['block_p50_rt_max_live'])
        cause = ('in %d blocks of 10000 live, each against the 1-live blocks on either side, create+close costs '
                 '%.2fx (median; %.2fx to %.2fx) in control round trips: %.2f to %.2f round trips with 1 live, '
                 '%.2f to %.2f with 10000; in microseconds the 1-live blocks\' p50s range over %s..%s, the '
                 '10000-live ones over %s..%s; from the rounds, %.1f ns more per live registration between 1000 '
                 'and 10000, and munmap of an unrelated range, which only the guest\'s notifier tree sees, goes '
                 'from %s to %s'
                 % (a['n'], pair['median'], a['min'], a['max'], r1['min'], r1['max'], r2['min'], r2['max'],
                    us(s1['min']), us(s1['max']), us(s2['min']), us(s2['max']), (per_live or 0) * 1000,
                    us(m1), us(m10k)))
    goal('live', pair['median'] if a else None, cause)

    cp = one('copy', thp=False)
    cpu, cps, cpc = p50(st(cp, 'userptr_caller')), p50(st(cp, 'copy_staging')), p50(st(cp, 'copy_cold'))
    goal('copy', div(cps, cpu),
         'one memcpy of 64 MiB into the pre-faulted staging blob takes %s (%.2f GB/s), userptr register+release %s'
         % (us(cps), div(64 * 1.048576, cps) * 1000 if div(64, cps) else float('nan'), us(cpu)))

    rows, why = [], []
    for hr in fam.get('host_read', []):
        mp, nt = p50(st(hr, 'host_mapped')), p50(st(hr, 'host_native'))
        if finite(mp) and finite(nt):
            rows.append((div(nt, mp), hr, mp, nt))
        else:
            why.append('%s: %s' % (hr['label'], hr.get('error', 'no samples')))
    res['host_read'] = [{'label': hr['label'], 'ratio': r, 'mapped_GBps': div(hr['bytes'], mp * 1000),
                         'native_GBps': div(hr['bytes'], nt * 1000)} for r, hr, mp, nt in rows]
    if rows and not why:
        r, hr, mp, nt = min(rows, key=lambda x: x[0])
        sh = p50(st(hr, 'host_shuffled'))
        goal('host_read', r,
             'the worst row, %s in %d host ranges: QEMU reads it through its mapping in %s (%.2f GB/s) against %s '
             '(%.2f GB/s) for a memcpy of the same size between two host buffers; the same memcpy in pieces of the '
             'mapping\'s range sizes, in a shuffled order, takes %s (%.2f GB/s): %s'
             % (hr['label'], hr['host']['nr-ranges'], us(mp), div(hr['bytes'], mp * 1000) or float('nan'), us(nt),
                div(hr['bytes'], nt * 1000) or float('nan'), us(sh), div(hr['bytes'], (sh or 0) * 1000) or float('nan'),
                ('the scatter itself costs all of the difference (the mapped read is %s faster than that copy)'
                 % us(sh - mp)) if finite(sh) and sh >= mp else
                ('%s of the difference is the scatter itself and %s the mapping' % (us((sh or 0) - nt), us(mp - (sh or 0))))))
    else:
        goal('host_read', None, None, 'not measured: ' + ('; '.join(why) or 'no host_read rows'))
    same = [(div(sh, mp), hr, mp, sh) for _, hr, mp, _ in rows for sh in [p50(st(hr, 'host_shuffled'))]]
    if same and all(finite(x[0]) for x in same) and not why:
        r, hr, mp, sh = min(same, key=lambda x: x[0])
        goal('host_read_same_pieces', r,
             'the worst row, %s in %d host ranges: QEMU reads it through its mapping in %s against %s for a native '
             'copy of the same pieces, in a shuffled order: the mapping costs %s more'
             % (hr['label'], hr['host']['nr-ranges'], us(mp), us(sh), us(mp - sh)))
    else:
        goal('host_read_same_pieces', None, None,
             'not measured: ' + ('; '.join(why) or 'no host_read rows with a shuffled native copy'))

    td = {p['live']: p for p in fam.get('teardown', [])}
    t1k, t10k = (p50(st(td.get(n), 'exit_unpinned')) for n in (1000, 10000))
    pr1k, pr10k = div(t1k, 1000), div(t10k, 10000)
    goal('teardown', div(pr10k, pr1k),
         'exit unpins 1000 registrations in %s (%s each) and 10000 in %s (%s each): each costs %.1f ns more per '
         'other live registration'
         % (us(t1k), us(pr1k), us(t10k), us(pr10k), div(((pr10k or 0) - (pr1k or 0)) * 1000, 9000) or float('nan')))

    km = one('kmem')
    if km:
        n = km['live']
        kb = rss.get('live-after'), rss.get('live-before')
        rss_delta = (int(kb[0]) - int(kb[1])) if all(x and x.isdigit() for x in kb) else None
        res['memory_per_registration'] = {
            'live': n, 'pages_per_registration': 1,
            'guest_slab_bytes': div(km['slab_kib'] * 1024, n),
            'guest_sunreclaim_bytes': div(km['sunreclaim_kib'] * 1024, n),
            'guest_vmalloc_bytes': div(km['vmalloc_kib'] * 1024, n),
            'guest_pagetables_bytes': div(km['pagetables_kib'] * 1024, n),
            'qemu_rss_bytes': div(rss_delta * 1024, n) if rss_delta is not None else None,
            'qemu_rss_kib_before_after': [kb[1], kb[0]],
        }
    th = one('threads')
    if th:
        a, b = p50(st(th, 'one_thread')), p50(st(th, 'two_threads'))
        res['threads'] = {'per_registration_one_thread_us': div(a, th['per_thread']),
                          'per_registration_two_threads_us': div(b, 2 * th['per_thread']),
                          'throughput_two_vs_one': div(a * 2, b) if finite(a) else None}
    return res, goals


def table(points, env, res, goals):
    fam = {}
    for p in points:
        fam.setdefault(p['family'], []).append(p)
    st = lambda p, side: p['stats'].get(side) if p else None
    L = []
    p = L.append
    e = next(iter(fam.get('env', [])), {})
    p('Environment: %s, accel %s, %s vCPUs, %s guest RAM; host %s (%s cores), load %s at start' % (
        env.get('kernel', '?'), env.get('accel', '?'), env.get('smp', '?'), env.get('memory', '?'),
        env.get('host_cpu', '?'), env.get('host_cores', '?'), env.get('load_start', '?')))
    p('  linux series %s, qemu series %s, kernel config sha256 %s' % (
        env.get('linux_commit', '?')[:12], env.get('qemu_commit', '?')[:12], env.get('kernel_config_sha256', '?')[:16]))
    p('Clock: %s, smallest step %s us; %s samples per point after %s warm-up rounds, sides interleaved; '
      'cells: p50 (p99; min..max)' % (e.get('clocksource'), e.get('clock_step_us'), e.get('samples'), e.get('warmup')))
    p('Until unpinned: the %s event; io_uring unpins before returning' % e.get('unpin_event'))
    rt = next(iter(fam.get('roundtrip', [])), None)
    p('')
    p('Host round trip (control: 1x1 2D resource create + wait for its fence + close): %s' % cell(st(rt, 'control')))
    p('  of which the create ioctl: %s; GETPARAM (no host): %s' % (cell(st(rt, 'control_submit')), cell(st(rt, 'getparam'))))
    p('  4 KiB userptr register+release: caller-visible %s, until unpinned %s; io_uring %s' % (
        cell(st(rt, 'userptr_caller')), cell(st(rt, 'userptr_unpinned')), cell(st(rt, 'io_uring'))))
    if rt and 'dequeue_runs_per_userptr' in rt:
        d = rt['dequeue_runs_per_userptr']
        p('  runs of the dequeue work (kprobe) per round trip: 4 KiB userptr register+release %.2f (%s); control %.2f' % (
            d, 'its answers came in the interrupt' if d < 0.05 else 'the dequeue work delivered its answers',
            rt['dequeue_runs_per_control']))
    p('')
    p('Registration + release, userptr against io_uring fixed buffers (same buffer, same FOLL_LONGTERM pin):')
    p('  %-3s %-7s %-16s %-8s %-34s %-34s %-34s %s' % ('THP', 'size', 'THP-backed', 'entries', 'userptr caller-visible',
                                                      'userptr until unpinned', 'io_uring (= unpinned)', 'ratio'))
    for r in sorted(fam.get('register', []), key=lambda r: (r['thp'], r['bytes'])):
        need = ((r['bytes'] + (2 << 20) - 1) >> 21) * 2048
        if r['thp']:
            backed = 'yes (%d KiB)' % r['anon_huge_kib'] if r['anon_huge_kib'] >= need else 'NO (%d KiB)' % r['anon_huge_kib']
        else:
            backed = 'no' if r['anon_huge_kib'] == 0 else 'partly (%d KiB)' % r['anon_huge_kib']
        ratio = div(p50(st(r, 'userptr_caller')), p50(st(r, 'io_uring')))
        p('  %-3s %-7s %-16s %-8s %-34s %-34s %-34s %s' % (
            'on' if r['thp'] else 'off', size(r['bytes']), backed, r['entries'], cell(st(r, 'userptr_caller')),
            cell(st(r, 'userptr_unpinned')), cell(st(r, 'io_uring')), '%.2fx' % ratio if ratio else 'n/a'))
    s = res['slope_us_per_MiB']
    p('  fit 1..256 MiB, THP off: userptr %s/MiB + %s, io_uring %s/MiB + %s' % (
        us(s['userptr']), us(s['intercept_userptr_us']), us(s['io_uring']), us(s['intercept_io_uring_us'])))
    p('')
    p('Copy, 64 MiB: userptr register+release against one memcpy into a persistent pre-faulted staging blob;')
    p('the cold copy (a new mappable blob each time: allocation, zeroing, faults, memcpy, close) as a second row:')
    for c in fam.get('copy', []):
        u = p50(st(c, 'userptr_caller'))
        p('  THP %-3s (%s): userptr %s; staging memcpy %s (%.1fx); cold copy %s (%.1fx)' % (
            'on' if c['thp'] else 'off', 'THP-backed' if c['anon_huge_kib'] >= 65536 else 'not THP-backed',
            cell(st(c, 'userptr_caller')), cell(st(c, 'copy_staging')),
            div(p50(st(c, 'copy_staging')), u) or float('nan'), cell(st(c, 'copy_cold')),
            div(p50(st(c, 'copy_cold')), u) or float('nan')))
    rv = next(iter(fam.get('revoke', [])), None)
    p('')
    p('Revocation, 16 MiB, THP off: munmap of a registered range against an explicit close (the range stays')
    p('mapped) and against close then munmap (the same end state: unmapped, unpinned, pages freed):')
    p('  munmap:       returns %s, unpinned %s, both done %s' % (
        cell(st(rv, 'munmap_caller')), cell(st(rv, 'munmap_unpinned')), cell(st(rv, 'munmap_done'))))
    p('  close:        returns %s, unpinned %s' % (cell(st(rv, 'close_caller')), cell(st(rv, 'close_unpinned'))))
    p('  close+munmap: returns %s, both done %s' % (cell(st(rv, 'close_munmap_caller')),
                                                   cell(st(rv, 'close_munmap_done'))))
    if worker_runs(rv):
        p('  kprobe: %s' % worker_runs(rv))
    p('')
    p('With N live registrations (1 page each): create+close of one more page, and munmap of an unrelated 64 KiB%s:' % (
        ' (the levels visited in %d rounds, up and down, sharing the samples)' % fam['live'][0]['rounds']
        if fam.get('live') and 'rounds' in fam['live'][0] else ''))
    for l in sorted(fam.get('live', []), key=lambda l: l['live']):
        p('  N=%-6d create+close %s, unpinned %s; munmap %s' % (
            l['live'], cell(st(l, 'userptr_caller')), cell(st(l, 'userptr_unpinned')), cell(st(l, 'munmap_other'))))
    pair = res.get('live_pairs')
    if pair:
        p('  1 and 10000 live in alternating blocks (%d samples each), each 10000-live block against the 1-live '
          'blocks on either side, in control round trips: %s (in microseconds: %s)' % (
              len(fam['live_pairs'][0]['blocks'][0]['userptr_caller_us']),
              ' '.join('%.2fx' % r if finite(r) else 'n/a' for r in pair['ratios']),
              ' '.join('%.2fx' % r if finite(r) else 'n/a' for r in pair['ratios_in_us'])))
    if finite(res.get('live_rounds_ns_per_registration')):
        p('  from the rounds, in microseconds: %.1f ns more per live registration between 1000 and 10000'
          % res['live_rounds_ns_per_registration'])
    m = res.get('memory_per_registration')
    if m:
        p('  memory per registration at %d live: guest slab %s B (unreclaimable %s B), vmalloc %s B, page tables %s B; '
          'QEMU RSS %s B' % (m['live'], fmt(m['guest_slab_bytes']), fmt(m['guest_sunreclaim_bytes']),
                             fmt(m['guest_vmalloc_bytes']), fmt(m['guest_pagetables_bytes']), fmt(m['qemu_rss_bytes'])))
    th = res.get('threads')
    if th:
        t = next(iter(fam['threads']))
        p('Two threads registering at once (%d create+close of 64 KiB each): %s per registration against %s from one '
          'thread alone; throughput %.2fx' % (t['per_thread'], us(th['per_registration_two_threads_us']),
                                              us(th['per_registration_one_thread_us']), th['throughput_two_vs_one'] or float('nan')))
    p('Teardown at process exit with N registrations (until all are unpinned):')
    for t in sorted(fam.get('teardown', []), key=lambda t: t['live']):
        u = p50(st(t, 'exit_unpinned'))
        p('  N=%-6d exit returns %s; unpinned %s; %s per registration (%d samples)' % (
            t['live'], cell(st(t, 'exit_caller')), cell(st(t, 'exit_unpinned')), us(div(u, t['live'])),
            len(t['exit_unpinned_us'])))
    for en in fam.get('entries', []):
        p('Memory entries, %s: %s entries for %s physically contiguous runs (THP %d KiB)' % (
            en['label'], en['entries'], en['runs'], en['anon_huge_kib']))
    hrs = fam.get('host_read', [])
    if hrs:
        p('')
        p('Host read through the mapping (QEMU times it with the host clock): the resource copied from the device\'s')
        p('mapping of the userptr into a host buffer, against a memcpy of the same size between two host buffers,')
        p('whole and in pieces of the mapping\'s range sizes taken in a shuffled order:')
    for hr in hrs:
        if 'host' not in hr:
            p('  %-16s not measured: %s' % (hr['label'], hr.get('error')))
            continue
        mp, nt = p50(st(hr, 'host_mapped')), p50(st(hr, 'host_native'))
        sh = p50(st(hr, 'host_shuffled'))
        p('  %-16s %d entries, %d host ranges, THP %d KiB: mapped %s = %.2f GB/s; native %s = %.2f GB/s; %.2fx' % (
            hr['label'], hr['entries'], hr['host']['nr-ranges'], hr['anon_huge_kib'], cell(st(hr, 'host_mapped')),
            div(hr['bytes'], (mp or 0) * 1000) or float('nan'), cell(st(hr, 'host_native')),
            div(hr['bytes'], (nt or 0) * 1000) or float('nan'), div(nt, mp) or float('nan')))
        p('  %-16s native in the mapping\'s range sizes, shuffled: %s = %.2f GB/s; mapped against it %.2fx' % (
            '', cell(st(hr, 'host_shuffled')), div(hr['bytes'], (sh or 0) * 1000) or float('nan'),
            div(sh, mp) or float('nan')))
    p('')
    p('Goals (ratios measured in this boot):')
    for key, text, cmp, thr in GOALS:
        g = goals.get(key)
        if not g:
            continue
        v = g['value']
        status = 'met' if g['met'] else ('not measured' if g['met'] is None else 'MISSED')
        # A value that rounds to the threshold gets a third decimal, so that
        # "1.05x ... MISSED" does not read as a contradiction.
        digits = 3 if finite(v) and abs(round(v, 2) - thr) < 1e-9 else 2
        p('  %-70s %8s  goal %s %-5g %s' % (
            text, '%.*f%s' % (digits, v, '' if key == 'fixed_cost' else 'x') if finite(v) else 'n/a',
            cmp, thr, status))
    missed = [g for g in goals.values() if g['met'] is False]
    if missed:
        p('')
        p('Measured causes of the missed goals:')
        for g in missed:
            p('- %s: %s.' % (g['metric'], g['cause']))
    return '\n'.join(L)


def fmt(x):
    return '%.0f' % x if finite(x) else 'n/a'


def plots(out, points):
    fam = {}
    for p in points:
        fam.setdefault(p['family'], []).append(p)
    made = []

    def plot(name, title, xlabel, series, logx=True):
        dat = os.path.join(out, 'bench-%s.dat' % name)
        with open(dat, 'w') as f:
            for label, rows in series:
                f.write('# %s: x p50 min max\n' % label)
                for x, s in rows:
                    if s:
                        f.write('%g %g %g %g\n' % (x, s['p50'], s['min'], s['max']))
                f.write('\n\n')
        png = os.path.join(out, 'bench-%s.png' % name)
        plots_ = ', \\\n     '.join("'%s' index %d using 1:2:3:4 with yerrorlines title '%s'" % (dat, i, label)
                                   for i, (label, _) in enumerate(series))
        script = ("set terminal pngcairo size 1000,650 noenhanced\nset output '%s'\nset title '%s'\n"
                  "%sset logscale y\nset xlabel '%s'\nset ylabel 'microseconds (p50, bars min..max)'\n"
                  "set key left top\nplot %s\n" % (png, title, 'set logscale x\n' if logx else '', xlabel, plots_))
        subprocess.run(['gnuplot'], input=script, text=True, check=True)
        made.append(png)

    reg = fam.get('register', [])
    if reg:
        series = []
        for thp in (False, True):
            rows = sorted((r for r in reg if r['thp'] == thp), key=lambda r: r['bytes'])
            t = 'THP on' if thp else 'THP off'
            series.append(('userptr caller-visible, ' + t, [(r['bytes'], r['stats'].get('userptr_caller')) for r in rows]))
            series.append(('userptr until unpinned, ' + t, [(r['bytes'], r['stats'].get('userptr_unpinned')) for r in rows]))
            series.append(('io_uring, ' + t, [(r['bytes'], r['stats'].get('io_uring')) for r in rows]))
        plot('sizes', 'Registration + release against size (guest under TCG)', 'bytes', series)
    live = sorted(fam.get('live', []), key=lambda l: l['live'])
    if live:
        plot('live', 'One more registration, and munmap of an unrelated range, with N live registrations',
             'live registrations', [
                 ('create+close, caller-visible', [(l['live'], l['stats'].get('userptr_caller')) for l in live]),
                 ('create+close, until unpinned', [(l['live'], l['stats'].get('userptr_unpinned')) for l in live]),
                 ('munmap of an unrelated 64 KiB', [(l['live'], l['stats'].get('munmap_other')) for l in live])])
    td = sorted(fam.get('teardown', []), key=lambda t: t['live'])
    if td:
        per = lambda t, side: ({k: (v / t['live'] if k != 'n' else v) for k, v in t['stats'][side].items()}
                               if t['stats'].get(side) else None)
        plot('teardown', 'Process exit with N registrations, per registration', 'registrations at exit', [
            ('exit returns, per registration', [(t['live'], per(t, 'exit_caller')) for t in td]),
            ('all unpinned, per registration', [(t['live'], per(t, 'exit_unpinned')) for t in td])])
    return made


def main():
    out = sys.argv[1]
    if sys.argv[2] == '--error':
        env = read_kv(sys.argv[4] if len(sys.argv) > 4 else None)
        write_json(out, {'ok': False, 'error': sys.argv[3], 'environment': env})
        return
    log, env, rss = sys.argv[2], read_kv(sys.argv[3]), read_kv(sys.argv[4])
    points = load(log)
    done = any(True for line in open(log, errors='replace') if line.startswith('BENCH-DONE'))
    error = None if done else (sys.argv[5] if len(sys.argv) > 5 else 'the benchmark stopped before its end (%s)' % log)
    if not points:
        write_json(out, {'ok': False, 'error': error, 'environment': env})
        sys.exit('error: ' + error)
    res, goals = analyse(points, env, rss)
    text = table(points, env, res, goals)
    made, plot_error = [], None
    try:
        made = plots(out, points)
    except (OSError, subprocess.CalledProcessError) as e:
        plot_error = 'gnuplot failed: %s' % e
    if error:
        text = 'INCOMPLETE: %s; the families measured before it:\n\n%s' % (error, text)
    doc = {'ok': not error, 'error': error, 'environment': env, 'results': res, 'goals': goals,
           'points': [{k: v for k, v in p.items()} for p in points], 'host_rss_kib': rss,
           'plots': [os.path.basename(m) for m in made], 'plot_error': plot_error,
           'note': 'Measured under TCG on a shared 2-core machine; another machine of the same kind may give '
                   'different figures. Ratios compare two sides measured interleaved in the same boot.'}
    write_json(out, doc)
    print(text)
    with open(os.path.join(out, 'bench.txt'), 'w') as f:
        f.write(text + '\n')
    if plot_error:
        print('warning: no plots: ' + plot_error, file=sys.stderr)
    print('\nbench: %s, %s, %s' % (os.path.join(out, 'bench.json'), os.path.join(out, 'bench.txt'),
                                  ', '.join(made)))
    if error:
        sys.exit('error: ' + error)


if __name__ == '__main__':
    main()
