#!/usr/bin/env python3
"""Relay between the guest's host channel and QEMU's QMP monitor.

Usage: host-relay.py QMP_SOCKET CHANNEL_SOCKET LOG [GDB_SOCKET]

Guest tests ask what the device sees by writing a QMP command, as one line of
JSON, to the virtio-serial port org.virtio-gpu-userptr.host; QEMU connects that
port to CHANNEL_SOCKET. This relay forwards each command whose name starts
with 'x-virtio-gpu-' or 'x-query-virtio-gpu-' to QMP and writes QMP's answer
back as one line; any other command gets an error answer, so the guest cannot
drive the rest of the monitor. It exits when QEMU closes either socket.

With GDB_SOCKET (QEMU's gdbstub), three more commands, answered here and
never forwarded, let a guest race test hold one vCPU at a chosen instruction
of the guest kernel while the other vCPUs run (see guest/userptr-race.c):
  x-relay-vcpu-stall-arm {"from", "to", "callees", "timeout"}: a breakpoint
      on the one direct call, in the kernel code [from, to), to any of the
      addresses "callees" (guest virtual addresses, from /proc/kallsyms; JSON
      numbers or "0x..." strings).
      The vCPU that reaches it within "timeout" seconds (60, at most 600)
      stays stopped;
      every other vCPU is resumed at once. If none does, the breakpoint
      goes and the wait command answers an error;
  x-relay-vcpu-stall-wait: wait for that; answers the held vCPU's index;
  x-relay-vcpu-stall-release: remove the breakpoint and resume every vCPU.
"""
import json
import socket
import sys
import threading
import time

GDB_PREFIX = 'x-relay-vcpu-stall-'

ALLOWED_PREFIXES = ('x-virtio-gpu-', 'x-query-virtio-gpu-')


def connect(path, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def qmp_answer(qmp):
    """The next answer on the QMP stream, skipping events."""
    while True:
        line = qmp.readline()
        if not line:
            raise EOFError('QMP closed')
        msg = json.loads(line)
        if 'return' in msg or 'error' in msg:
            return msg


class GdbError(Exception):
    pass


class Gdb:
    """QEMU's gdbstub (all-stop mode, no multiprocess thread ids)."""

    def __init__(self, path):
        self.sock = connect(path)
        self.buf = b''
        self.bp = None
        # Connecting stops the VM; read the vCPUs' thread ids meanwhile.
        self.threads = []
        try:
            reply = self.ask('qfThreadInfo')
            while reply.startswith('m'):
                self.threads += reply[1:].split(',')
                reply = self.ask('qsThreadInfo')
            if not self.threads:
                raise GdbError('gdbstub listed no vCPU')
        except Exception:
            self.detach()  # never leave the VM stopped
            raise

    def _byte(self, deadline):
        while not self.buf:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(4096)
            except socket.timeout:
                raise TimeoutError from None
            if not chunk:
                raise EOFError('gdbstub closed')
            self.buf += chunk
        b, self.buf = self.buf[:1], self.buf[1:]
        return b

    def packet(self, deadline=None):
        """The next packet's payload; acks it."""
        while self._byte(deadline) != b'$':
            pass
        data = b''
        while True:
            b = self._byte(deadline)
            if b == b'#':
                break
            data += b
        self._byte(deadline)
        self._byte(deadline)
        self.sock.sendall(b'+')
        return data.decode('ascii')

    def send(self, payload):
        cs = sum(payload.encode('ascii')) % 256
        self.sock.sendall(('$%s#%02x' % (payload, cs)).encode('ascii'))

    def ask(self, payload):
        self.send(payload)
        return self.packet(time.monotonic() + 10)

    def read(self, addr, length):
        out = b''
        while length:
            n = min(length, 1024)
            reply = self.ask('m%x,%x' % (addr, n))
            if reply.startswith('E') or len(reply) != 2 * n:
                raise GdbError('cannot read guest memory at 0x%x: %s' % (addr, reply))
            out += bytes.fromhex(reply)
            addr, length = addr + n, length - n
        return out

    def stop_reply(self, deadline):
        """Wait for a stop reply ('T' packet); its thread id."""
        while True:
            reply = self.packet(deadline)
            if reply.startswith('T'):
                for field in reply[3:].split(';'):
                    if field.startswith('thread:'):
                        return field[len('thread:'):]
                return None

    def interrupt(self):
        """Stop every vCPU."""
        self.sock.sendall(b'\x03')
        self.stop_reply(time.monotonic() + 10)

    def detach(self):
        """Remove the breakpoints and resume the VM, as gdb's detach does."""
        self.ask('D')
        self.sock.close()


def call_site(code, base, callees):
    """The address of the one direct call (E8 rel32) in code to a callee."""
    sites = []
    for i in range(len(code) - 4):
        if code[i] != 0xe8:
            continue
        rel = int.from_bytes(code[i + 1:i + 5], 'little', signed=True)
        if (base + i + 5 + rel) & 0xffffffffffffffff in callees:
            sites.append(base + i)
    if len(sites) != 1:
        raise GdbError('%d direct calls to %s in [0x%x, 0x%x): need one' %
                       (len(sites), ', '.join('0x%x' % c for c in callees),
                        base, base + len(code)))
    return sites[0]


def address(value):
    """A guest address: a JSON number, or a string such as "0xffff..."."""
    value = int(value, 0) if isinstance(value, str) else int(value)
    if not 0 <= value < 1 << 64:
        raise GdbError('not a 64-bit address: %d' % value)
    return value


def hold_one_vcpu(gdb, deadline):
    """Wait for the breakpoint and resume every other vCPU at once.

    Runs in a thread of its own from the arm command on: all vCPUs stop at
    the breakpoint, the guest's vCPU that would send the wait command too.
    """
    try:
        try:
            thread = gdb.stop_reply(deadline)
        except TimeoutError:
            # Not left armed: a vCPU that reached it later would stay held.
            gdb.interrupt()
            raise GdbError('no vCPU reached the breakpoint in time') from None
        others = [t for t in gdb.threads if t != thread]
        if thread not in gdb.threads or not others:
            raise GdbError('stopped in thread %s of %s' % (thread, gdb.threads))
        gdb.send('vCont;' + ';'.join('c:' + t for t in others))
        gdb.held = gdb.threads.index(thread)
    except (GdbError, OSError, EOFError) as e:
        gdb.error = str(e)
        try:
            gdb.detach()
        except (OSError, EOFError, TimeoutError):
            pass


def vcpu_stall(gdb_path, state, name, args):
    """Answer one x-relay-vcpu-stall-* command."""
    gdb = state.get('gdb')
    if name == GDB_PREFIX + 'arm':
        if gdb:
            raise GdbError('a stall is already armed')
        lo, hi = address(args['from']), address(args['to'])
        callees = {address(c) for c in args['callees']}
        timeout = float(args.get('timeout', 60))
        if not 0 < hi - lo <= 65536:
            raise GdbError('[from, to) must hold 1 to 65536 bytes')
        if not 0 < timeout <= 600:
            raise GdbError('the timeout must be more than 0 and at most 600 s')
        gdb = Gdb(gdb_path)
        state['gdb'] = gdb
        try:
            gdb.bp = call_site(gdb.read(lo, hi - lo), lo, callees)
            if gdb.ask('Z0,%x,1' % gdb.bp) != 'OK':
                raise GdbError('the breakpoint was refused')
        except Exception:
            state.pop('gdb').detach()
            raise
        gdb.held, gdb.error = None, None
        gdb.waiter = threading.Thread(target=hold_one_vcpu,
                                      args=(gdb, time.monotonic() + timeout))
        gdb.send('c')
        gdb.waiter.start()
        return {'address': gdb.bp}
    if name not in (GDB_PREFIX + 'wait', GDB_PREFIX + 'release'):
        raise GdbError('unknown command ' + name)
    if not gdb:
        raise GdbError('no stall is armed')
    gdb.waiter.join()
    if gdb.held is None:
        # The waiter gave up and detached: every vCPU runs.
        state.pop('gdb')
        raise GdbError(gdb.error or 'the vCPU was not held')
    if name == GDB_PREFIX + 'wait':
        return {'vcpu': gdb.held}
    gdb.interrupt()
    state.pop('gdb').detach()
    return {}


def main():
    qmp_path, chan_path, log_path = sys.argv[1:4]
    gdb_path = sys.argv[4] if len(sys.argv) > 4 else None
    gdb_state = {}
    log = open(log_path, 'a', buffering=1)
    qmp_sock = connect(qmp_path)
    qmp = qmp_sock.makefile('rw', encoding='utf-8', newline='\n')
    qmp.readline()  # greeting
    qmp.write(json.dumps({'execute': 'qmp_capabilities'}) + '\n')
    qmp.flush()
    qmp_answer(qmp)
    chan_sock = connect(chan_path)
    chan = chan_sock.makefile('rw', encoding='utf-8', newline='\n')
    log.write('relay: connected\n')
    while True:
        line = chan.readline()
        if not line:
            break
        line = line.strip()
        if not line:
            continue
        try:
            cmd = json.loads(line)
            name = cmd.get('execute', '')
        except (ValueError, AttributeError):
            cmd, name = None, ''
        who = 'qmp'
        if gdb_path and isinstance(name, str) and name.startswith(GDB_PREFIX):
            who = 'relay'
            try:
                answer = {'return': vcpu_stall(gdb_path, gdb_state, name,
                                               cmd.get('arguments', {}))}
            except (GdbError, ValueError, TypeError, KeyError, AttributeError,
                    OSError, EOFError) as e:
                answer = {'error': {'class': 'GenericError', 'desc': str(e)}}
        elif not isinstance(name, str) or not name.startswith(ALLOWED_PREFIXES):
            answer = {'error': {'class': 'GenericError',
                                'desc': 'the host channel only relays %s commands' %
                                ' and '.join(p + '*' for p in ALLOWED_PREFIXES)}}
        else:
            qmp.write(json.dumps(cmd) + '\n')
            qmp.flush()
            answer = qmp_answer(qmp)
        log.write('guest: %s\n%s: %s\n' % (line, who, json.dumps(answer)))
        chan.write(json.dumps(answer) + '\n')
        chan.flush()
    log.write('relay: closed\n')


if __name__ == '__main__':
    try:
        main()
    except (EOFError, OSError, KeyboardInterrupt):
        pass
