#!/usr/bin/env python3
"""Write the seed corpus of make fuzz (fuzz/corpus/): valid virtio-gpu blob
command sequences in the input format of QEMU's generic-fuzz target.

generic-fuzz (tests/qtest/fuzz/generic_fuzz.c) reads an input as operations
separated by b"FUZZ"; an operation's first byte (mod 10) picks it:

  3 WRITE        u8 size (0..3: 1,2,4,8 bytes), u8 region, 2 pad,
                 u32 offset, u64 value: an MMIO write to the region-th
                 fuzzable memory region (in guest-physical order) + offset
  5 PCI_WRITE    u8 size, u8 device, u8 config offset, pad, u32 value
  7 ADD_DMA_PATTERN  u8 index, u8 stride, data...
  8 CLEAR_DMA_PATTERNS
  9 CLOCK_STEP

The fuzzer cannot write guest memory itself: whenever the device reads a
range of guest RAM that it has not read since the last operation, the range
is first filled with the next DMA pattern, round robin (make fuzz sets
QEMU_AVOID_DOUBLE_FETCH, so that a range read twice within an operation is
filled once). A virtqueue command is therefore sent as: clear the patterns,
add one pattern per device read in the order the device reads (avail->idx,
avail->ring[i], the request's descriptor, the request, the response's
descriptor, the response buffer), and write the queue's notify register.
A 'trace' of what each seed does is printed with --list.

The fuzzable regions of '-device virtio-gpu-pci' (QEMU_FUZZ_OBJECTS
'virtio*'), in the order generic-fuzz counts them, are the MSI-X table and
PBA (BAR 1), then BAR 4: common configuration, ISR, device configuration,
notify (see REGIONS).

Usage: fuzz-corpus.py [--out DIR] [--check DIR] [--list]
  --out DIR    write the seeds into DIR (default: fuzz/corpus of the repo)
  --check DIR  exit 1 unless DIR holds exactly these seeds
"""
import argparse
import hashlib
import os
import struct
import sys

SEP = b"FUZZ"
OP_WRITE, OP_PCI_WRITE, OP_ADD_DMA_PATTERN, OP_CLEAR_DMA_PATTERNS, \
    OP_CLOCK_STEP = 3, 5, 7, 8, 9

# generic-fuzz's indices of virtio-gpu-pci's regions (checked by make fuzz's
# first run with QTEST_LOG: see scripts/fuzz.sh).
REGIONS = {"msix-table": 0, "msix-pba": 1, "common": 2, "isr": 3,
           "device": 4, "notify": 5}

# virtio_pci_common_cfg
DFSELECT, GFSELECT, GF, STATUS, Q_SELECT, Q_SIZE, Q_ENABLE = \
    0x00, 0x08, 0x0C, 0x14, 0x16, 0x18, 0x1C
Q_DESCLO, Q_DESCHI, Q_AVAILLO, Q_AVAILHI, Q_USEDLO, Q_USEDHI = \
    0x20, 0x24, 0x28, 0x2C, 0x30, 0x34
S_ACK, S_DRIVER, S_DRIVER_OK, S_FEATURES_OK = 1, 2, 4, 8

# virtio-gpu
F_RESOURCE_BLOB, F_BLOB_READ_ONLY, F_VERSION_1 = 3, 6, 32
GET_DISPLAY_INFO, RESOURCE_CREATE_2D, RESOURCE_UNREF, SET_SCANOUT, \
    RESOURCE_FLUSH, TRANSFER_TO_HOST_2D, RESOURCE_ATTACH_BACKING, \
    RESOURCE_DETACH_BACKING = range(0x100, 0x108)
RESOURCE_CREATE_BLOB, SET_SCANOUT_BLOB = 0x10C, 0x10D
UPDATE_CURSOR, MOVE_CURSOR = 0x300, 0x301
BLOB_MEM_GUEST = 1
BLOB_FLAG_USE_MAPPABLE, BLOB_FLAG_USE_SHAREABLE, BLOB_FLAG_READ_ONLY = \
    1, 2, 0x10
FORMAT_B8G8R8X8 = 2
FLAG_FENCE = 1

# Guest memory layout (the fuzzer's machine has 512 MiB): the control and
# cursor rings, request and response buffers, and the blobs' pages.
QSIZE = 256
CTRL_DESC, CTRL_AVAIL, CTRL_USED = 0x100000, 0x101000, 0x102000
CUR_DESC, CUR_AVAIL, CUR_USED = 0x104000, 0x105000, 0x106000
REQ, RESP = 0x110000, 0x120000
PAGE = 0x1000
DATA = 0x200000
ROM = 0xFFFFF000  # the last page of the BIOS
MMIO = 0xFEC00000  # the IO-APIC


def op(code, payload=b""):
    return bytes([code]) + payload


def mmio_write(region, offset, value, size):
    sz = {1: 0, 2: 1, 4: 2, 8: 3}[size]
    return op(OP_WRITE, struct.pack("<BBxxIQ", sz, REGIONS[region], offset,
                                    value))


def pattern(data):
    return op(OP_ADD_DMA_PATTERN, struct.pack("<BB", 0, 0) + data)


class Driver:
    """The operations of one seed, as a guest driver would act."""

    def __init__(self, features=(F_RESOURCE_BLOB, F_BLOB_READ_ONLY)):
        self.ops = []
        self.log = []
        self.avail = {0: 0, 1: 0}
        self.next_fence = 1
        self.start(features)

    def w(self, region, offset, value, size=4):
        self.ops.append(mmio_write(region, offset, value, size))

    def status(self, value):
        self.w("common", STATUS, value, 1)

    def queue(self, index, desc, avail, used):
        self.w("common", Q_SELECT, index, 2)
        self.w("common", Q_SIZE, QSIZE, 2)
        for off, addr in ((Q_DESCLO, desc), (Q_AVAILLO, avail),
                          (Q_USEDLO, used)):
            self.w("common", off, addr & 0xFFFFFFFF)
            self.w("common", off + 4, addr >> 32)
        self.w("common", Q_ENABLE, 1, 2)

    def start(self, features):
        bits = (1 << F_VERSION_1)
        for f in features:
            bits |= 1 << f
        self.status(0)
        self.status(S_ACK)
        self.status(S_ACK | S_DRIVER)
        for sel in (0, 1):
            self.w("common", GFSELECT, sel)
            self.w("common", GF, (bits >> (32 * sel)) & 0xFFFFFFFF)
        self.status(S_ACK | S_DRIVER | S_FEATURES_OK)
        self.queue(0, CTRL_DESC, CTRL_AVAIL, CTRL_USED)
        self.queue(1, CUR_DESC, CUR_AVAIL, CUR_USED)
        self.status(S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK)
        self.log.append("init: features 0x%x, ctrlq and cursorq enabled"
                        % bits)

    def submit(self, reqs, queue=0, resp_len=1024, resp_at=None):
        """Queue the requests (bytes) as chains [request, response] and
        notify once. One pattern per device read, in the device's order.
        resp_at: where the responses go instead of RESP (memory that is not
        RAM makes the device map them through a bounce buffer)."""
        desc, avail = (CTRL_DESC, CTRL_AVAIL) if queue == 0 else \
            (CUR_DESC, CUR_AVAIL)
        self.ops.append(op(OP_CLEAR_DMA_PATTERNS))
        first = self.avail[queue]
        self.avail[queue] += len(reqs)
        # avail->idx: read once (a second read of it is a double fetch)
        self.ops.append(pattern(struct.pack("<H", self.avail[queue] & 0xFFFF)))
        for k, req in enumerate(reqs):
            head = (2 * (first + k)) % QSIZE
            req_addr = REQ + 0x10000 * queue + k * PAGE
            resp_addr = (RESP if resp_at is None else resp_at) + \
                0x10000 * queue + k * PAGE
            # avail->ring[first + k]
            self.ops.append(pattern(struct.pack("<H", head)))
            if queue == 0:
                # the request, then the response, chained
                self.ops.append(pattern(struct.pack(
                    "<QIHH", req_addr, len(req), 1, (head + 1) % QSIZE)))
                self.ops.append(pattern(req))
                self.ops.append(pattern(struct.pack(
                    "<QIHH", resp_addr, resp_len, 2, 0)))
                self.ops.append(pattern(b"\0"))
            else:
                self.ops.append(pattern(struct.pack(
                    "<QIHH", req_addr, len(req), 0, 0)))
                self.ops.append(pattern(req))
        self.w("notify", 4 * queue, queue, 2)
        self.ops.append(op(OP_CLEAR_DMA_PATTERNS))

    def cmd(self, name, req, fence=False):
        self.log.append(name)
        if fence:
            req = req[:4] + struct.pack("<IQ", FLAG_FENCE,
                                        self.next_fence) + req[16:]
            self.next_fence += 1
        self.submit([req])

    def reset(self):
        self.log.append("device reset (status 0), then init again")
        self.start((F_RESOURCE_BLOB, F_BLOB_READ_ONLY))
        self.avail = {0: 0, 1: 0}

    def data(self):
        out = SEP.join(self.ops)
        return out


def hdr(t, flags=0, fence=0):
    return struct.pack("<IIQIB3x", t, flags, fence, 0, 0)


def entries(ents):
    return b"".join(struct.pack("<QII", a, n, 0) for a, n in ents)


def create_blob(rid, size, ents, flags=0, nr=None):
    nr = len(ents) if nr is None else nr
    return (hdr(RESOURCE_CREATE_BLOB) +
            struct.pack("<IIIIQQ", rid, BLOB_MEM_GUEST, flags, nr, 0, size) +
            entries(ents))


def attach(rid, ents, nr=None):
    nr = len(ents) if nr is None else nr
    return hdr(RESOURCE_ATTACH_BACKING) + struct.pack("<II", rid, nr) + \
        entries(ents)


def detach(rid):
    return hdr(RESOURCE_DETACH_BACKING) + struct.pack("<II", rid, 0)


def unref(rid):
    return hdr(RESOURCE_UNREF) + struct.pack("<II", rid, 0)


def flush(rid, w, h, x=0, y=0):
    return hdr(RESOURCE_FLUSH) + struct.pack("<IIIIII", x, y, w, h, rid, 0)


def scanout_blob(rid, w, h, stride, offset=0, scanout=0, fmt=FORMAT_B8G8R8X8,
                 rect=None):
    r = rect or (0, 0, w, h)
    return (hdr(SET_SCANOUT_BLOB) + struct.pack("<IIII", *r) +
            struct.pack("<IIIIII", scanout, rid, w, h, fmt, 0) +
            struct.pack("<IIII", stride, 0, 0, 0) +
            struct.pack("<IIII", offset, 0, 0, 0))


def scanout(rid, w, h, scanout_id=0):
    return hdr(SET_SCANOUT) + struct.pack("<IIIIII", 0, 0, w, h, scanout_id,
                                          rid)


def create_2d(rid, w, h, fmt=FORMAT_B8G8R8X8):
    return hdr(RESOURCE_CREATE_2D) + struct.pack("<IIII", rid, fmt, w, h)


def transfer_2d(rid, w, h, offset=0):
    return hdr(TRANSFER_TO_HOST_2D) + struct.pack("<IIIIQII", 0, 0, w, h,
                                                  offset, rid, 0)


def display_info():
    return hdr(GET_DISPLAY_INFO)


def update_cursor(rid, x, y):
    return hdr(UPDATE_CURSOR) + struct.pack("<IIIIIIII", 0, x, y, 0, rid, 0,
                                            0, 0)


def seeds():
    """name -> Driver: each a short valid (or, marked, hostile) sequence."""
    s = {}

    d = Driver()
    d.cmd("GET_DISPLAY_INFO", display_info())
    s["display-info"] = d

    d = Driver()
    d.cmd("CREATE_BLOB 1: 4 pages in 2 entries",
          create_blob(1, 4 * PAGE, [(DATA, PAGE), (DATA + PAGE, 3 * PAGE)]))
    d.cmd("RESOURCE_UNREF 1", unref(1))
    s["blob-create-unref"] = d

    d = Driver()
    d.cmd("CREATE_BLOB 1: 2 pages, no entries (late backing)",
          create_blob(1, 2 * PAGE, []))
    d.cmd("ATTACH_BACKING 1: 2 entries",
          attach(1, [(DATA + 4 * PAGE, PAGE), (DATA, PAGE)]))
    d.cmd("DETACH_BACKING 1", detach(1))
    d.cmd("ATTACH_BACKING 1: 1 entry", attach(1, [(DATA, 2 * PAGE)]))
    d.cmd("RESOURCE_UNREF 1", unref(1))
    s["blob-late-backing"] = d

    w, h = 64, 32
    d = Driver()
    d.cmd("CREATE_BLOB 1: 64x32 XRGB, 2 scattered entries",
          create_blob(1, w * h * 4, [(DATA + 8 * PAGE, PAGE),
                                     (DATA, w * h * 4 - PAGE)]))
    d.cmd("SET_SCANOUT_BLOB 0 <- 1", scanout_blob(1, w, h, w * 4))
    d.cmd("RESOURCE_FLUSH 1", flush(1, w, h), fence=True)
    d.cmd("DETACH_BACKING 1 (takes the scanout down)", detach(1))
    d.cmd("RESOURCE_FLUSH 1 (no backing)", flush(1, w, h))
    d.cmd("RESOURCE_UNREF 1", unref(1))
    s["blob-scanout-detach"] = d

    d = Driver()
    d.cmd("CREATE_BLOB 1: read-only, 64x32",
          create_blob(1, w * h * 4, [(DATA, w * h * 4)],
                      flags=BLOB_FLAG_READ_ONLY | BLOB_FLAG_USE_SHAREABLE))
    d.cmd("SET_SCANOUT_BLOB 0 <- 1 (offset one line)",
          scanout_blob(1, w, h - 1, w * 4, offset=w * 4))
    d.cmd("RESOURCE_FLUSH 1 (part)", flush(1, 16, 8, 8, 4))
    d.cmd("RESOURCE_UNREF 1 (while scanned out)", unref(1))
    d.cmd("GET_DISPLAY_INFO", display_info())
    s["blob-readonly-scanout-unref"] = d

    d = Driver()
    d.cmd("CREATE_BLOB 1: 64x32",
          create_blob(1, w * h * 4, [(DATA, w * h * 4)]))
    d.cmd("CREATE_BLOB 2: 64x32, same pages",
          create_blob(2, w * h * 4, [(DATA, w * h * 4)],
                      flags=BLOB_FLAG_USE_MAPPABLE))
    d.cmd("SET_SCANOUT_BLOB 0 <- 1", scanout_blob(1, w, h, w * 4))
    d.cmd("SET_SCANOUT_BLOB 0 <- 2", scanout_blob(2, w, h, w * 4))
    d.log.append("UPDATE_CURSOR: resource 2, on the cursor queue")
    d.submit([update_cursor(2, 10, 10)], queue=1)
    d.cmd("SET_SCANOUT 0 <- 0 (disable)", scanout(0, 0, 0))
    d.reset()
    d.cmd("GET_DISPLAY_INFO after reset", display_info())
    s["blob-two-scanouts-reset"] = d

    d = Driver()
    d.log.append("two commands in one notify: CREATE_BLOB 1, CREATE_BLOB 2")
    d.submit([create_blob(1, PAGE, [(DATA, PAGE)]),
              create_blob(2, 2 * PAGE, [(DATA + PAGE, PAGE),
                                        (DATA + 3 * PAGE, PAGE)])])
    d.log.append("UNREF 2, UNREF 1, UNREF 1 again (invalid)")
    d.submit([unref(2), unref(1), unref(1)])
    s["blob-batch"] = d

    # Hostile lists, as the qtest sends them: the device must refuse each.
    d = Driver()
    d.cmd("CREATE_BLOB 1: size 0", create_blob(1, 0, [(DATA, PAGE)]))
    d.cmd("CREATE_BLOB 2: entries short of the size",
          create_blob(2, 4 * PAGE, [(DATA, PAGE)]))
    d.cmd("CREATE_BLOB 3: an entry in ROM", create_blob(3, PAGE, [(ROM, PAGE)]))
    d.cmd("CREATE_BLOB 4: an entry in MMIO",
          create_blob(4, PAGE, [(MMIO, PAGE)]))
    d.cmd("CREATE_BLOB 5: nr_entries 2^28, none sent",
          create_blob(5, 1 << 40, [], nr=1 << 28))
    d.cmd("CREATE_BLOB 6: entry past guest RAM",
          create_blob(6, PAGE, [(0x7FFFF000, PAGE)]))
    d.cmd("CREATE_BLOB 7: length overflow",
          create_blob(7, 2 * PAGE, [(DATA, 0xFFFFF000), (DATA, 0x2000)]))
    d.cmd("CREATE_BLOB 8: read-only (feature negotiated)",
          create_blob(8, PAGE, [(DATA, PAGE)], flags=BLOB_FLAG_READ_ONLY))
    d.cmd("SET_SCANOUT_BLOB 0 <- 8: stride too small",
          scanout_blob(8, 64, 32, 16))
    d.cmd("SET_SCANOUT_BLOB 0 <- 8: past the blob",
          scanout_blob(8, 64, 32, 256, offset=PAGE))
    d.cmd("CREATE_BLOB 8 again (id in use)",
          create_blob(8, PAGE, [(DATA, PAGE)]))
    d.cmd("RESOURCE_UNREF 8", unref(8))
    s["blob-hostile"] = d

    d = Driver(features=(F_RESOURCE_BLOB,))
    d.cmd("CREATE_BLOB 1: read-only, feature not negotiated",
          create_blob(1, PAGE, [(DATA, PAGE)], flags=BLOB_FLAG_READ_ONLY))
    d.cmd("CREATE_BLOB 2", create_blob(2, PAGE, [(DATA, PAGE)]))
    d.cmd("ATTACH_BACKING 2 (already backed)", attach(2, [(DATA, PAGE)]))
    d.cmd("RESOURCE_UNREF 2", unref(2))
    s["blob-no-readonly-feature"] = d

    # Finding 1 (make fuzz's first leak): a command shorter than its header
    # was never answered and stopped the control queue (the display info
    # after it went unanswered); at the reset that ends each input, the
    # command's buffers were freed unmapped (a bounce buffer: the response
    # lies outside RAM here, where the fuzzer found it).
    d = Driver()
    d.log.append("a 4-byte command (shorter than its header), response "
                 "outside RAM")
    d.submit([struct.pack("<I", GET_DISPLAY_INFO)], resp_at=0x9B0000000000)
    d.cmd("GET_DISPLAY_INFO (unanswered before the fix)", display_info())
    s["regress-short-header"] = d

    d = Driver()
    d.cmd("RESOURCE_CREATE_2D 1: 64x32", create_2d(1, w, h))
    d.cmd("ATTACH_BACKING 1", attach(1, [(DATA, w * h * 4)]))
    d.cmd("TRANSFER_TO_HOST_2D 1", transfer_2d(1, w, h))
    d.cmd("SET_SCANOUT 0 <- 1", scanout(1, w, h))
    d.cmd("RESOURCE_FLUSH 1", flush(1, w, h))
    d.cmd("CREATE_BLOB 2 over the same pages",
          create_blob(2, w * h * 4, [(DATA, w * h * 4)]))
    d.cmd("SET_SCANOUT_BLOB 0 <- 2", scanout_blob(2, w, h, w * 4))
    d.cmd("RESOURCE_UNREF 1", unref(1))
    d.cmd("RESOURCE_UNREF 2", unref(2))
    s["2d-then-blob"] = d
    return s


def main():
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(top, "fuzz", "corpus"))
    ap.add_argument("--check")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    s = {name: d.data() for name, d in seeds().items()}
    for name, data in s.items():
        if SEP in b"".join(seeds()[name].ops):
            sys.exit("seed %s: an operation contains the separator" % name)
    if a.list:
        for name, d in seeds().items():
            print("%s (%d bytes, %d operations)" % (name, len(s[name]),
                                                     len(d.ops)))
            for line in d.log:
                print("    " + line)
        return 0
    if a.check:
        have = {}
        if os.path.isdir(a.check):
            for f in os.listdir(a.check):
                with open(os.path.join(a.check, f), "rb") as fh:
                    have[f] = fh.read()
        if have != s:
            print("fuzz-corpus: %s differs from scripts/fuzz-corpus.py's "
                  "seeds (run scripts/fuzz-corpus.py)" % a.check,
                  file=sys.stderr)
            return 1
        return 0
    os.makedirs(a.out, exist_ok=True)
    for f in os.listdir(a.out):
        if f not in s:
            os.unlink(os.path.join(a.out, f))
    for name, data in s.items():
        with open(os.path.join(a.out, name), "wb") as fh:
            fh.write(data)
    print("%d seeds in %s (sha256 of all: %s)" % (
        len(s), a.out,
        hashlib.sha256(b"".join(s[n] for n in sorted(s))).hexdigest()[:16]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
