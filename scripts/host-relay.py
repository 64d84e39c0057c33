#!/usr/bin/env python3
"""Relay between the guest's host channel and QEMU's QMP monitor.

Usage: host-relay.py QMP_SOCKET CHANNEL_SOCKET LOG

Guest tests ask what the device sees by writing a QMP command, as one line of
JSON, to the virtio-serial port org.virtio-gpu-userptr.host; QEMU connects that
port to CHANNEL_SOCKET. This relay forwards each command whose name starts
with 'x-virtio-gpu-' or 'x-query-virtio-gpu-' to QMP and writes QMP's answer
back as one line; any other command gets an error answer, so the guest cannot
drive the rest of the monitor. It exits when QEMU closes either socket.
"""
import json
import socket
import sys
import time

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


def main():
    qmp_path, chan_path, log_path = sys.argv[1:4]
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
        if not isinstance(name, str) or not name.startswith(ALLOWED_PREFIXES):
            answer = {'error': {'class': 'GenericError',
                                'desc': 'the host channel only relays %s commands' %
                                ' and '.join(p + '*' for p in ALLOWED_PREFIXES)}}
        else:
            qmp.write(json.dumps(cmd) + '\n')
            qmp.flush()
            answer = qmp_answer(qmp)
        log.write('guest: %s\nqmp: %s\n' % (line, json.dumps(answer)))
        chan.write(json.dumps(answer) + '\n')
        chan.flush()
    log.write('relay: closed\n')


if __name__ == '__main__':
    try:
        main()
    except (EOFError, OSError, KeyboardInterrupt):
        pass
