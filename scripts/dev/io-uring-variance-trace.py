#!/usr/bin/env python3
"""Medians of io-uring-variance's pairs and the split of each userptr
creation, from a boot's output.log run with io-uring-variance-trace.sh:
pinning, pinned to queued (the memory entries among it), the host (the
CREATE_BLOB queued to its answer), answered to returned.

Usage: io-uring-variance-trace.py build/results/NAME/output.log"""
import re, sys, statistics as st
lines = open(sys.argv[1]).read().splitlines()
def med(x): return st.median(x) if x else float('nan')
for phase in ("fresh", "fragmented"):
    r = [float(m.group(1)) for l in lines for m in [re.match(r"pair %s \d+: .* ratio ([\d.]+)" % phase, l)] if m]
    u = [float(m.group(1)) for l in lines for m in [re.match(r"pair %s \d+: .* userptr (\d+) us" % phase, l)] if m]
    i = [float(m.group(1)) for l in lines for m in [re.match(r"pair %s \d+: io_uring (\d+) us" % phase, l)] if m]
    print(f"{phase}: {len(r)} pairs, ratio p50 {med(r):.2f}, userptr p50 {med(u):.0f} us, io_uring p50 {med(i):.0f} us")
# trace: per create call, split
ev = []
for l in lines:
    m = re.search(r"\[\d+\] \S+\s+([\d.]+): (\w+):", l)
    if not m: continue
    t = float(m.group(1)) * 1e6; name = m.group(2)
    typ = re.search(r"type=(0x[0-9a-f]+)", l)
    ev.append((t, name, typ.group(1) if typ else None, l))
calls = []; cur = None
for t, name, typ, l in ev:
    if name == "ucreate": cur = {"t0": t}
    elif cur is None: continue
    elif name == "upin": cur.setdefault("pin0", t)
    elif name == "upin_ret": cur["pin1"] = t
    elif name == "virtio_gpu_cmd_queue" and typ == "0x10c": cur["q"] = t
    elif name == "virtio_gpu_cmd_response" and "q" in cur and "r" not in cur: cur["r"] = t
    elif name == "ucreate_ret": cur["t1"] = t; calls.append(cur); cur = None
big = [c for c in calls if "pin1" in c and "q" in c and "r" in c and c["t1"] - c["t0"] > 4000]
# The two phases: the buffers phase between them registers no userptr,
# so they are split at the longest pause between two creations.
gaps = [big[k + 1]["t0"] - big[k]["t0"] for k in range(len(big) - 1)]
cut = gaps.index(max(gaps)) + 1 if gaps else len(big)
phases = (("fresh", big[:cut]), ("fragmented", big[cut:]))
for label, sel in phases:
    if len(sel) < 2:
        continue
    f = lambda k: med([k(c) for c in sel])
    print(f"{label} ({len(sel)} creates): total {f(lambda c: c['t1']-c['t0']):.0f} us; pin {f(lambda c: c['pin1']-c['pin0']):.0f}; pinned->queued (entries) {f(lambda c: c['q']-c['pin1']):.0f}; host (queue->answer) {f(lambda c: c['r']-c['q']):.0f}; answer->return {f(lambda c: c['t1']-c['r']):.0f}")
    e = sorted(c['q']-c['pin1'] for c in sel)
    print(label, "entries us quartiles", [round(x) for x in st.quantiles(e, n=4)], "min", round(e[0]), "max", round(e[-1]))
