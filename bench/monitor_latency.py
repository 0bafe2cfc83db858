#!/usr/bin/env python3
"""The per-message cost of `lockstep monitor` (README "Figures"): N GET_FEATURES round trips
from a front-end to lockstep-vhost-backend, directly and through the monitor (not perturbing);
median and p99 of each, in microseconds.

  monitor_latency.py LOCKSTEP LOCKSTEP_VHOST_BACKEND [--n 5000]

Runs under `flock /tmp/lockstep-heavy.lock` like every timing figure. Exit 0, or 1 when a reply
is not the back-end's GET_FEATURES reply.
"""
import argparse
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time


def round_trips(path, n):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    request = struct.pack("<III", 1, 1, 0)  # GET_FEATURES, VERSION, size 0
    times = []
    for _ in range(n):
        t = time.perf_counter_ns()
        s.sendall(request)
        reply = b""
        while len(reply) < 20:
            chunk = s.recv(20 - len(reply))
            if not chunk:
                raise SystemExit("the connection closed")
            reply += chunk
        times.append(time.perf_counter_ns() - t)
        if struct.unpack("<III", reply[:12]) != (1, 5, 8):
            raise SystemExit("unexpected reply %r" % reply)
    s.close()
    times.sort()
    return times[len(times) // 2] / 1000, times[len(times) * 99 // 100] / 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lockstep")
    ap.add_argument("backend")
    ap.add_argument("--n", type=int, default=5000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="lockstep-monlat-") as d:
        be_path, fe_path = os.path.join(d, "be.sock"), os.path.join(d, "fe.sock")
        be = subprocess.Popen([args.backend, "--socket-path", be_path], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
        try:
            be.stdout.readline()  # "ready"
            direct = round_trips(be_path, args.n)
            mon = subprocess.Popen([args.lockstep, "monitor", "--listen", fe_path, "--connect",
                                    be_path], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   text=True)
            mon.stderr.readline()  # "lockstep monitor: ready: ..."
            monitored = round_trips(fe_path, args.n)
            mon.wait(timeout=30)
        finally:
            be.terminate()
            be.wait()
    print("direct:  median %.1f us, p99 %.1f us" % direct)
    print("monitor: median %.1f us, p99 %.1f us (%d round trips each; monitor exit %d)"
          % (*monitored, args.n, mon.returncode))
    return 0 if mon.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
