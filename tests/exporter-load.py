#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Load on an exporter (tests/test-exporter.sh): IDLE connections that send
nothing and HALF connections with a request cut short, all held open;
meanwhile one scrape, one malformed request and one oversized one, each
timed. Prints one line "scrape CODE SECONDS", "malformed CODE SECONDS",
"oversized CODE SECONDS" each, then "held N" (how many of the load's
connections were still open at the end, i.e. not refused).
Usage: exporter-load.py HOST PORT IDLE HALF"""
import resource
import socket
import sys
import time

host, port, n_idle, n_half = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = n_idle + n_half + 64
if soft < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard) if hard != resource.RLIM_INFINITY else want, hard))

held = []
for i in range(n_idle + n_half):
    s = socket.create_connection((host, port), timeout=5)
    if i >= n_idle:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    held.append(s)


def request(data):
    t0 = time.monotonic()
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(data)
    buf = b""
    try:
        while b"\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    except socket.timeout:
        pass
    dt = time.monotonic() - t0
    s.close()
    line = buf.split(b"\r\n", 1)[0].decode(errors="replace")
    code = line.split(" ")[1] if line.startswith("HTTP/") and " " in line else "none"
    return code, dt


time.sleep(0.2)
for name, data in (
    ("scrape", b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    ("malformed", b"GARBAGE \x01\x02 NOT/HTTP\r\n\r\n"),
    ("oversized", b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n"),
):
    code, dt = request(data)
    print("%s %s %.3f" % (name, code, dt), flush=True)

alive = 0
for s in held:
    try:
        s.setblocking(False)
        if s.recv(1):
            alive += 1  # open, and answered something
    except BlockingIOError:
        alive += 1  # open, nothing to read
    except OSError:
        pass  # reset: closed by the exporter
    s.close()
print("held %d" % alive)
