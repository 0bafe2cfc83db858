#!/usr/bin/env python3
"""Integration test (ctest label `qemu`): a real QEMU 7.2 postcopy live migration with
lockstep-vhost-backend as the vhost-user back-end of both source and destination.

Two TCG guests (no guest OS, paused with -S) share guest RAM through memory-backend-memfd;
each has `-netdev vhost-user` + virtio-net-pci. The destination back-end must see
POSTCOPY_ADVISE, POSTCOPY_LISTEN and POSTCOPY_END; QEMU must report `completed` with
postcopy bytes > 0; no vhost error may appear in QEMU's output; and each back-end's fd count
must return to its baseline after QEMU disconnects.

With --monitor LOCKSTEP, `lockstep monitor` (README "Monitor") sits between each QEMU and its
back-end, recording the session and checking both sides; the destination's ADVISE, LISTEN and
END are then read from the monitor's --json document. --dpdk-peer PATH adds the same migrations
with DPDK's librte_vhost (peers/dpdk/dpdk_vhost_peer, monitor profile dpdk-22.11) as both
back-ends; --perturb-seeds 1,2,3 repeats each migration once per seed with `--perturb SEED`.
Every recorded session is replayed with `lockstep replay --target model` (and, for
lockstep-vhost-backend, against the real back-end too): the replay must agree exactly when the
monitor saw no back-end violation. A back-end violation with lockstep-vhost-backend fails the
run; front-end (QEMU) violations and DPDK's are reported, and listed with --summary FILE.

Usage: postcopy_migration_test.py BACKEND_BINARY [--runs N] [--keep DIR] [--monitor LOCKSTEP]
           [--dpdk-peer PATH] [--perturb-seeds S,S,...] [--summary FILE] [--record-dir DIR]
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


def start_backend(backend, sock, log):
    """backend: ("lockstep", path) or ("dpdk", path); both print a line starting "ready"."""
    kind, binary = backend
    if kind == "dpdk":
        cmd = [binary, "--socket", sock, "--file-prefix",
               "lockstep-qemu-%d-%s" % (os.getpid(), os.path.basename(sock).split("-")[0])]
    else:
        cmd = [binary, "--socket-path", sock, "--log", log, "--log-level", "debug"]
    err = open(log, "a") if kind == "dpdk" else subprocess.STDOUT
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, start_new_session=True,
                            text=True)
    line = proc.stdout.readline()
    if not line.startswith("ready"):
        raise RuntimeError("back-end did not start: %r" % line)
    return proc


def start_monitor(lockstep, workdir, role, profile, seed):
    """`lockstep monitor` on ROLE-vhost.sock (QEMU's) in front of ROLE-be.sock."""
    cmd = [lockstep, "monitor", "--listen", "%s/%s-vhost.sock" % (workdir, role),
           "--connect", "%s/%s-be.sock" % (workdir, role), "--profile", profile,
           "--record", "%s/%s-session.txt" % (workdir, role), "--json"]
    if seed is not None:
        cmd += ["--perturb", str(seed)]
    out = open("%s/%s-monitor.json" % (workdir, role), "w")
    log = "%s/%s-monitor.log" % (workdir, role)
    proc = subprocess.Popen(cmd, stdout=out, stderr=open(log, "w"), start_new_session=True)
    wait_for(lambda: "ready" in open(log).read() or proc.poll() is not None, 10, "monitor ready")
    if proc.poll() is not None:
        raise RuntimeError("monitor exited %d: %s" % (proc.returncode, open(log).read()[-500:]))
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


def one_migration(backend, workdir, monitor=None):
    """Returns a dict of findings; raises on any failed expectation. monitor: None, or
    (lockstep binary, profile, seed or None)."""
    procs, result, monitors = [], {}, {}
    behind = "be" if monitor else "vhost"  # the back-end's socket: QEMU's, or the monitor's
    try:
        backends = {}
        for role in ("src", "dst"):
            backends[role] = start_backend(backend, "%s/%s-%s.sock" % (workdir, role, behind),
                                           "%s/%s-backend.log" % (workdir, role))
            procs.append(backends[role])
        baseline = {role: fd_count(p.pid) for role, p in backends.items()}
        if monitor:
            for role in ("src", "dst"):
                monitors[role] = start_monitor(monitor[0], workdir, role, monitor[1], monitor[2])
                procs.append(monitors[role])
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
        for role, p in monitors.items():
            p.wait(timeout=20)
            result["%s_monitor_exit" % role] = p.returncode
        # DPDK is known to keep fds (docs/peers/dpdk.md): the balance is checked on ours only.
        for role, p in backends.items() if backend[0] == "lockstep" else ():
            wait_for(lambda p=p, role=role: fd_count(p.pid) == baseline[role], 10,
                     "%s back-end fds back to baseline %d (now %d)"
                     % (role, baseline[role], fd_count(p.pid)))
            result["fds_back_to_baseline"] = True
    finally:
        for p in reversed(procs):
            kill_group(p)
    if monitors:
        seen = monitored(workdir, result)
    else:
        seen = open("%s/dst-backend.log" % workdir).read()
    qemu_logs = "".join(open("%s/%s-qemu.log" % (workdir, r)).read() for r in ("src", "dst"))
    for message in ("POSTCOPY_ADVISE", "POSTCOPY_LISTEN", "POSTCOPY_END"):
        if message not in seen:
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


def monitored(workdir, result):
    """Reads both monitors' documents into result; the destination's requests, joined."""
    requests = ""
    for role in ("src", "dst"):
        code = result.get("%s_monitor_exit" % role)
        if code not in (0, 1):
            raise RuntimeError("%s monitor exited %s: %s" % (
                role, code, open("%s/%s-monitor.log" % (workdir, role)).read()[-800:]))
        doc = json.load(open("%s/%s-monitor.json" % (workdir, role)))
        result["%s_violations" % role] = ["%s %s at %d (%s): %s" % (
            v["side"], v["rule"], v["index"], v["op"], v["message"]) for v in doc["violations"]]
        result["%s_messages" % role] = len(doc["messages"])
        if role == "dst":
            requests = " ".join(m["request"] for m in doc["messages"] if m["from"] == "front-end")
    return requests


def replay_recordings(lockstep, workdir, result, real_backend):
    """Each recorded session replays against the model (and our back-end): agreement exactly
    when the monitor saw no back-end violation."""
    for role in ("src", "dst"):
        program = "%s/%s-session.txt" % (workdir, role)
        backend_ok = not any(v.startswith("back-end") for v in result["%s_violations" % role])
        targets = [["--target", "model"]] + ([[]] if real_backend else [])
        for target in targets:
            p = subprocess.run([lockstep, "replay", *target, program], capture_output=True,
                               text=True, timeout=120)
            want = 0 if backend_ok else 1
            if p.returncode != want:
                raise RuntimeError("lockstep replay %s %s exited %d, expected %d:\n%s%s" % (
                    " ".join(target), program, p.returncode, want, p.stdout[-2000:],
                    p.stderr[-1000:]))
        twin = program[:-4] + ".bin"
        if os.path.exists(twin):
            p = subprocess.run([lockstep, "replay", "--protocol", "vhost", "--target", "model",
                                twin], capture_output=True, text=True, timeout=120)
            if p.returncode != 0:
                raise RuntimeError("replay of the binary twin %s exited %d:\n%s" % (
                    twin, p.returncode, p.stdout[-1500:]))
    result["replayed"] = True


def can_run_qemu():
    if shutil.which(QEMU) is None:
        return "%s is not installed (tools/install-deps.sh installs qemu-system-x86)" % QEMU
    probe = subprocess.run(["timeout", "20", QEMU, "-machine", "none", "-nodefaults",
                            "-display", "none", "-S", "-qmp", "stdio"], input='{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n',
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return "%s cannot run here: %s" % (QEMU, probe.stderr.strip()[:200])
    return None


def configurations(args):
    """(label, backend, monitor) for each migration of one run."""
    backends = [("lockstep", ("lockstep", os.path.abspath(args.backend)), "spec")]
    if args.dpdk_peer:
        if os.access(args.dpdk_peer, os.X_OK):
            backends.append(("dpdk", ("dpdk", os.path.abspath(args.dpdk_peer)), "dpdk-22.11"))
        else:
            print("SKIP dpdk: %s is not built (DPDK not installed: peers/dpdk/CMakeLists.txt)"
                  % args.dpdk_peer)
    seeds = [None] + [int(s) for s in args.perturb_seeds.split(",") if s]
    for label, backend, profile in backends:
        if not args.monitor:
            yield label, backend, None
            continue
        for seed in seeds:
            yield ("%s%s" % (label, "" if seed is None else " perturb=%d" % seed), backend,
                   (os.path.abspath(args.monitor), profile, seed))
        if label == "dpdk":
            # The oracle's negative case on real traffic: DPDK held to the spec profile must be
            # reported (its feature offers alone differ), and its recording must not replay.
            yield "dpdk-held-to-spec negative", backend, (os.path.abspath(args.monitor), "spec",
                                                          None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("backend")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--keep", help="keep logs of every run under this directory")
    ap.add_argument("--monitor", help="the lockstep binary: run `lockstep monitor` in between")
    ap.add_argument("--dpdk-peer", help="also migrate with DPDK's back-end (dpdk_vhost_peer)")
    ap.add_argument("--perturb-seeds", default="", help="with --monitor: also one run per seed")
    ap.add_argument("--summary", help="write every run's result as JSON here")
    ap.add_argument("--record-dir", help="copy each recorded session here")
    args = ap.parse_args()
    reason = can_run_qemu()
    if reason:
        print("SKIP: " + reason)
        return SKIP
    passed, total, summary = 0, 0, []
    plan = [(run, c) for run in range(1, args.runs + 1) for c in configurations(args)]
    for index, (run, (label, backend, monitor)) in enumerate(plan, 1):
        total += 1
        run, label_text = index, label
        workdir = tempfile.mkdtemp(prefix="lockstep-qemu-")
        try:
            result = one_migration(backend, workdir, monitor)
            result["config"] = label
            if monitor:
                replay_recordings(monitor[0], workdir, result, backend[0] == "lockstep")
                bad = [v for r in ("src", "dst") for v in result["%s_violations" % r]
                       if v.startswith("back-end")]
                if backend[0] == "lockstep" and bad:
                    raise RuntimeError("lockstep-vhost-backend violated the model: %s" % bad)
                if label.endswith("negative") and not bad:
                    raise RuntimeError("the monitor saw no back-end violation in a negative run")
                if args.record_dir:
                    os.makedirs(args.record_dir, exist_ok=True)
                    name = label.replace(" ", "-").replace("=", "")
                    for role in ("src", "dst"):
                        for ext in (".txt", ".bin"):
                            f = "%s/%s-session%s" % (workdir, role, ext)
                            if os.path.exists(f):
                                shutil.copy(f, "%s/%s-%s%s" % (args.record_dir, name, role, ext))
            passed += 1
            summary.append(result)
            print("run %d [%s]: PASS %s" % (run, label_text, json.dumps(result, sort_keys=True)))
        except Exception as e:  # report, keep logs, go on to the next run
            print("run %d [%s]: FAIL %s (logs in %s)" % (run, label_text, e, workdir))
            for name in sorted(os.listdir(workdir)):
                if name.endswith(".log"):
                    print("---- %s ----\n%s" % (name, open(os.path.join(workdir, name)).read()[-3000:]))
            workdir = None
        finally:
            if workdir and args.keep:
                shutil.copytree(workdir, os.path.join(args.keep, "run%d" % run), dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("*.sock"))
            if workdir:
                shutil.rmtree(workdir, ignore_errors=True)
    seconds = sorted(r["seconds"] for r in summary)
    if seconds:
        print("migration seconds: median %.2f over %d (%s)" % (
            seconds[len(seconds) // 2], len(seconds), ", ".join("%.2f" % s for s in seconds)))
    if args.summary:
        with open(args.summary, "w") as f:
            json.dump(summary, f, indent=1, sort_keys=True)
    print("%d passed, %d failed" % (passed, total - passed))
    return 0 if passed == total else 1


if __name__ == "__main__":
    sys.exit(main())
