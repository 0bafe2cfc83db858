#!/usr/bin/env python3
"""Integration test (ctest label `qemu`): a real QEMU 7.2 postcopy live migration with
lockstep-vhost-backend as the vhost-user back-end of both source and destination.

Two TCG guests (no guest OS, paused with -S) share guest RAM through memory-backend-memfd;
each has `-netdev vhost-user` + virtio-net-pci. The destination back-end must see
POSTCOPY_ADVISE, POSTCOPY_LISTEN and POSTCOPY_END; QEMU must report `completed` with
postcopy bytes > 0; no vhost error may appear in QEMU's output; and each back-end's fd count
must return to its baseline after QEMU disconnects.

Usage: postcopy_migration_test.py BACKEND_BINARY [--runs N] [--keep DIR]
Exit status: 0 pass, 1 fail, 77 skip (qemu-system-x86_64 cannot run here).
Every process is started in its own session, bounded in time, and killed at the end.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

QEMU = "qemu-system-x86_64"
SKIP = 77
GUEST_MIB = 512
PRECOPY_BANDWIDTH = 65536  # bytes/s: keeps precopy running so the switch to postcopy happens
DEADLINE_S = 90


class Qmp:
    """A minimal QMP client: one command at a time, events set aside."""

    def __init__(self, path, timeout=20):
        end = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.settimeout(timeout)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > end:
                    raise RuntimeError("QMP socket %s never accepted" % path)
                time.sleep(0.05)
        self.buf = b""
        self._read()  # greeting
        self.execute("qmp_capabilities")

    def _read(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("QMP connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def execute(self, name, **arguments):
        msg = {"execute": name}
        if arguments:
            msg["arguments"] = arguments
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = self._read()
            if "event" in reply:
                continue
            if "error" in reply:
                raise RuntimeError("%s: %s" % (name, reply["error"]))
            return reply.get("return")

    def close(self):
        self.sock.close()


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def start_backend(binary, sock, log):
    proc = subprocess.Popen([binary, "--socket-path", sock, "--log", log, "--log-level", "debug"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, text=True)
    line = proc.stdout.readline()
    if "ready" not in line:
        raise RuntimeError("back-end did not start: %r" % line)
    return proc


def qemu_command(workdir, role):
    cmd = ["timeout", "-s", "KILL", str(DEADLINE_S), QEMU, "-name", "lockstep-" + role,
           "-machine", "q35,accel=tcg,memory-backend=mem", "-m", "%dM" % GUEST_MIB,
           "-object", "memory-backend-memfd,id=mem,size=%dM,share=on" % GUEST_MIB,
           "-nodefaults", "-display", "none", "-S",
           "-chardev", "socket,id=chr0,path=%s/%s-vhost.sock" % (workdir, role),
           "-netdev", "vhost-user,id=net0,chardev=chr0",
           "-device", "virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56,romfile=",
           "-qmp", "unix:%s/%s-qmp.sock,server=on,wait=off" % (workdir, role)]
    if role == "dst":
        cmd += ["-incoming", "defer"]
    return cmd


def kill_group(proc):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=10)


def wait_for(predicate, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise RuntimeError("timed out waiting for " + what)


def one_migration(binary, workdir):
    """Returns a dict of findings; raises on any failed expectation."""
    procs, result = [], {}
    try:
        backends = {}
        for role in ("src", "dst"):
            backends[role] = start_backend(binary, "%s/%s-vhost.sock" % (workdir, role),
                                           "%s/%s-backend.log" % (workdir, role))
            procs.append(backends[role])
        baseline = {role: fd_count(p.pid) for role, p in backends.items()}
        qemus, qmp = {}, {}
        for role in ("src", "dst"):
            out = open("%s/%s-qemu.log" % (workdir, role), "w")
            qemus[role] = subprocess.Popen(qemu_command(workdir, role), stdout=out, stderr=out,
                                           start_new_session=True)
            procs.append(qemus[role])
        for role in ("src", "dst"):
            qmp[role] = Qmp("%s/%s-qmp.sock" % (workdir, role))
        src, dst = qmp["src"], qmp["dst"]
        postcopy = [{"capability": "postcopy-ram", "state": True}]
        uri = "unix:%s/migration.sock" % workdir
        dst.execute("migrate-set-capabilities", capabilities=postcopy)
        dst.execute("migrate-incoming", uri=uri)
        src.execute("migrate-set-capabilities", capabilities=postcopy)
        src.execute("migrate-set-parameters", **{"max-bandwidth": PRECOPY_BANDWIDTH})
        started = time.monotonic()
        src.execute("migrate", uri=uri)
        wait_for(lambda: src.execute("query-migrate").get("status") == "active", 20, "active")
        time.sleep(0.3)
        src.execute("migrate-start-postcopy")
        final = {}

        def finished():
            final.update(src.execute("query-migrate"))
            return final.get("status") in ("completed", "failed", "cancelled")

        wait_for(finished, 60, "migration to finish")
        result["seconds"] = round(time.monotonic() - started, 2)
        result["status"] = final["status"]
        result["postcopy_bytes"] = final.get("ram", {}).get("postcopy-bytes", 0)
        wait_for(lambda: dst.execute("query-migrate").get("status") == "completed", 20,
                 "destination completed")
        time.sleep(0.3)  # POSTCOPY_END reaches the back-end after the source reports completion
        for role in ("dst", "src"):
            try:
                qmp[role].execute("quit")
            except RuntimeError:
                pass  # QEMU may close QMP before answering quit
            qmp[role].close()
            qemus[role].wait(timeout=20)
        for role, p in backends.items():
            wait_for(lambda p=p, role=role: fd_count(p.pid) == baseline[role], 10,
                     "%s back-end fds back to baseline %d (now %d)"
                     % (role, baseline[role], fd_count(p.pid)))
        result["fds_back_to_baseline"] = True
    finally:
        for p in reversed(procs):
            kill_group(p)
    logs = {role: open("%s/%s-backend.log" % (workdir, role)).read() for role in ("src", "dst")}
    qemu_logs = "".join(open("%s/%s-qemu.log" % (workdir, r)).read() for r in ("src", "dst"))
    for message in ("POSTCOPY_ADVISE", "POSTCOPY_LISTEN", "POSTCOPY_END"):
        if message not in logs["dst"]:
            raise RuntimeError("destination back-end never saw " + message)
        result["dst_saw_" + message] = True
    if result["status"] != "completed":
        raise RuntimeError("migration ended %s" % result["status"])
    if not result["postcopy_bytes"] > 0:
        raise RuntimeError("no postcopy bytes: precopy finished before the switch")
    for line in qemu_logs.splitlines():
        if "vhost" in line.lower() and ("error" in line.lower() or "fail" in line.lower()):
            raise RuntimeError("QEMU reported a vhost error: " + line)
    return result


def can_run_qemu():
    if shutil.which(QEMU) is None:
        return "%s is not installed (tools/install-deps.sh installs qemu-system-x86)" % QEMU
    probe = subprocess.run(["timeout", "20", QEMU, "-machine", "none", "-nodefaults",
                            "-display", "none", "-S", "-qmp", "stdio"], input='{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n',
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return "%s cannot run here: %s" % (QEMU, probe.stderr.strip()[:200])
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("backend")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--keep", help="keep logs of every run under this directory")
    args = ap.parse_args()
    reason = can_run_qemu()
    if reason:
        print("SKIP: " + reason)
        return SKIP
    passed = 0
    for run in range(1, args.runs + 1):
        workdir = tempfile.mkdtemp(prefix="lockstep-qemu-")
        try:
            result = one_migration(os.path.abspath(args.backend), workdir)
            passed += 1
            print("run %d: PASS %s" % (run, json.dumps(result, sort_keys=True)))
        except Exception as e:  # report, keep logs, go on to the next run
            print("run %d: FAIL %s (logs in %s)" % (run, e, workdir))
            for name in sorted(os.listdir(workdir)):
                if name.endswith(".log"):
                    print("---- %s ----\n%s" % (name, open(os.path.join(workdir, name)).read()[-3000:]))
            workdir = None
        finally:
            if workdir and args.keep:
                shutil.copytree(workdir, os.path.join(args.keep, "run%d" % run), dirs_exist_ok=True)
            if workdir:
                shutil.rmtree(workdir, ignore_errors=True)
    print("%d passed, %d failed" % (passed, args.runs - passed))
    return 0 if passed == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
