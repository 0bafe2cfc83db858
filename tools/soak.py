#!/usr/bin/env python3
"""The soak (README "Soak"; tools/soak.sh builds what it needs, then runs this).

For SECONDS of wall time, at once:
  - each libFuzzer target of build/fuzz (ASan+UBSan) on a copy of its shipped corpus, with the
    target's dictionary and max_len (fuzz/<target>.options);
  - lockstep-vhost-backend under bench/vhost_hostile's load (churn, stalled handshakes, fd floods,
    oversized and fragmented frames), one round every PAUSE seconds against the same daemon,
    a probe answered within 100 ms throughout and the fds/RSS back to baseline after each round.
Writes REPORT (markdown) and REPORT with .json: per target CPU seconds (getrusage of the child),
execs, coverage at start and end, peak RSS, the coverage curve; the daemon's fd and RSS curve;
every finding with the command that replays it.

Usage: soak.py --seconds S --report FILE [--cpu-seconds C] [--work DIR] [--pause P] [--nice N]
               [--mutant TARGET=NAME]
--cpu-seconds stops each fuzzer (SIGINT; libFuzzer prints its final stats and exits 72) once it
has had C seconds of CPU, S still capping the wall time; the hostile load stops (SIGINT, after
its current round) when the fuzzers have. On a shared machine this is how a soak gets its
CPU-hours whatever else runs.
--mutant runs one target on a deliberately broken implementation (`lockstep mutants`), and
--daemon-inject stall stops the daemon for 250 ms in every round: the negative checks that a
finding is reported (tools/test.sh).
A probe over the limit is explained, not a finding, when it is within the limit without the time
the daemon and the probe were runnable but waiting for a CPU (scheduler_explains below).
Exit status: 0 no finding (explained ones are listed), 1 a finding (crash/leak/timeout/OOM
artifact, a fuzzer or the hostile load failing), 2 usage, 3 a binary is missing (run
tools/soak.sh, which builds them).
"""
import argparse
import configparser
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = ("mshv_device", "vhost_postcopy")  # fuzz/CMakeLists.txt LOCKSTEP_FUZZ_TARGETS
ARTIFACT = re.compile(r"^(crash|leak|timeout|oom)-")
COV = re.compile(r"^#(\d+)\s+(INITED|NEW|REDUCE|pulse|DONE)\s+cov: (\d+) ft: (\d+)")
REPORT = re.compile(r"^(lockstep: divergence |SUMMARY: |==\d+== ERROR: )")
RSS = re.compile(r" rss: (\d+)Mb")
LIBFUZZER_INTERRUPTED = 72  # libFuzzer's -interrupted_exitcode default
ROUND = re.compile(r"^round (\d+) at ([\d.]+) s: fds (\d+), VmRSS (\d+) kB, probe max ([\d.]+) ms$")
SLOW = re.compile(r"^slow probe at ([\d.]+) s \(round (\d+), ([\w-]+)\): ([\d.]+) ms; waited for a "
                  r"CPU: daemon ([\d.]+) ms, probe ([\d.]+) ms; without those waits ([\d.]+) ms$")
PROBES = re.compile(r"^probes: \d+, failed (\d+);.*\(limit (\d+)\)$")


def renice_session(nice):
    """Runs in the child after setsid: a new session is its own scheduler autogroup, in which a
    process's nice weighs only against the group's other processes (sched(7), "The autogroup
    feature"); the group's own nice is what weighs against the rest of the machine."""
    os.setpriority(os.PRIO_PROCESS, 0, nice)
    try:
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(nice))
    except OSError:
        pass  # no autogroups (CONFIG_SCHED_AUTOGROUP off): the process nice is what counts


class Child:
    """A process whose output lines are timestamped as they arrive and kept in a log."""

    def __init__(self, name, argv, log, env=None, nice=0):
        self.name, self.argv, self.lines = name, argv, []
        self.log = open(log, "w")
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, errors="replace", env=env, start_new_session=True,
                                     preexec_fn=(lambda: renice_session(nice)) if nice else None)
        self.reader = threading.Thread(target=self._read)
        self.reader.start()
        self.status, self.rusage, self.interrupted = None, None, False

    def _read(self):
        for line in self.proc.stdout:
            t = time.monotonic() - self.t0
            self.lines.append((t, line.rstrip("\n")))
            self.log.write("%8.1f %s" % (t, line))
            self.log.flush()

    def done(self, block=False):
        # wait4 rather than Popen.wait/poll: the child's own CPU time, exactly (its waited-for
        # children included).
        if self.rusage is None:
            pid, status, rusage = os.wait4(self.proc.pid, 0 if block else os.WNOHANG)
            if pid == 0:
                return False
            self.status, self.rusage = status, rusage
            self.proc.returncode = os.waitstatus_to_exitcode(status)
        return True

    def wait(self):
        self.done(block=True)
        self.reader.join()
        self.log.close()
        return self.proc.returncode

    def cpu_seconds(self):
        return round(self.rusage.ru_utime + self.rusage.ru_stime, 1)

    def cpu_so_far(self):
        try:
            with open("/proc/%d/stat" % self.proc.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
        except (OSError, IndexError, ValueError):
            return 0.0

    def interrupt(self):
        if not self.done():
            self.proc.send_signal(signal.SIGINT)
            self.interrupted = True


def fuzzer_argv(binary, target, corpus, artifacts, seconds):
    opts = configparser.ConfigParser()
    opts.read(os.path.join(ROOT, "fuzz", "fuzz_%s.options" % target))
    lf = opts["libfuzzer"] if opts.has_section("libfuzzer") else {}
    argv = [binary, corpus, "-max_total_time=%d" % seconds, "-print_final_stats=1",
            "-artifact_prefix=%s/" % artifacts, "-timeout=25", "-rss_limit_mb=2560"]
    if "dict" in lf:
        argv.append("-dict=" + os.path.join(ROOT, "fuzz", lf["dict"]))
    if "max_len" in lf:
        argv.append("-max_len=" + lf["max_len"])
    return argv


def start(args, work):
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    children = {}
    for target in TARGETS:
        corpus, artifacts = os.path.join(work, target, "corpus"), os.path.join(work, target, "artifacts")
        shutil.copytree(os.path.join(ROOT, "corpus", target), corpus)
        os.makedirs(artifacts)
        binary = os.path.join(args.fuzz_build, "fuzz", "fuzz_" + target)
        mutant = {"LOCKSTEP_IMPL_MUTANT": args.mutant[1]} if args.mutant and args.mutant[0] == target else {}
        children[target] = Child(target, fuzzer_argv(binary, target, corpus, artifacts, args.seconds),
                                 os.path.join(work, target + ".log"), dict(env, **mutant), args.nice)
    hostile = [os.path.join(args.build, "bench", "vhost_hostile"),
               os.path.join(args.build, "tools", "lockstep-vhost-backend"),
               "--seconds", str(args.seconds), "--pause", str(args.pause),
               "--churn", "2000", "--stalled", "500"] + (
                   ["--inject", args.daemon_inject] if args.daemon_inject else [])
    children["daemon"] = Child("daemon", hostile, os.path.join(work, "daemon.log"), nice=args.nice)
    return children


def run_to_budget(children, cpu_seconds):
    """Waits for the fuzzers (each interrupted at its CPU budget, if one is set), then stops the
    hostile load."""
    fuzzers = [children[t] for t in TARGETS]
    while not all(c.done() for c in fuzzers):
        time.sleep(2)
        for c in fuzzers:
            if cpu_seconds and c.cpu_so_far() >= cpu_seconds:
                c.interrupt()
    for c in fuzzers:
        c.wait()
    children["daemon"].interrupt()
    children["daemon"].wait()


def fuzzer_figures(child, work):
    points = [(t, m) for t, line in child.lines if (m := COV.match(line))]
    stats = dict(re.findall(r"^stat::(\w+):\s+(\d+)$", "\n".join(l for _, l in child.lines), re.M))
    inited = next((m for _, m in points if m.group(2) == "INITED"), None)
    last = points[-1][1] if points else None
    curve, step = [], max(1.0, (points[-1][0] if points else 1) / 12)
    for t, m in points:
        if not curve or t - curve[-1]["t"] >= step or m is last:
            curve.append({"t": round(t), "execs": int(m.group(1)), "cov": int(m.group(3)),
                          "ft": int(m.group(4)), "rss_mb": int(r.group(1)) if (r := RSS.search(m.string)) else 0})
    artifacts = sorted(os.listdir(os.path.join(work, child.name, "artifacts")))
    exit_code = child.proc.returncode
    if child.interrupted and exit_code == LIBFUZZER_INTERRUPTED:
        exit_code = 0  # stopped by us at its CPU budget
    return {
        "exit": exit_code, "cpu_s": child.cpu_seconds(), "stopped_at_cpu_budget": child.interrupted,
        "execs": int(stats.get("number_of_executed_units", 0)),
        "exec_per_s": int(stats.get("average_exec_per_sec", 0)),
        "peak_rss_mb": int(stats.get("peak_rss_mb", 0)),
        "cov_start": int(inited.group(3)) if inited else None,
        "cov_end": int(last.group(3)) if last else None,
        "ft_start": int(inited.group(4)) if inited else None,
        "ft_end": int(last.group(4)) if last else None,
        "corpus_end": len(os.listdir(os.path.join(work, child.name, "corpus"))),
        "artifacts": artifacts, "curve": curve,
        # The crash state: lockstep's stable divergence line, else the sanitizer's summary.
        "first_report": next((l for _, l in child.lines if REPORT.match(l)), None),
    }


def daemon_figures(child):
    text = [l for _, l in child.lines]
    rounds = [{"round": int(m.group(1)), "t": float(m.group(2)), "fds": int(m.group(3)),
               "rss_kb": int(m.group(4)), "probe_max_ms": float(m.group(5))}
              for l in text if (m := ROUND.match(l))]
    slow = [{"at_s": float(m.group(1)), "round": int(m.group(2)), "phase": m.group(3),
             "ms": float(m.group(4)), "daemon_wait_ms": float(m.group(5)),
             "probe_wait_ms": float(m.group(6)), "own_ms": float(m.group(7))}
            for l in text if (m := SLOW.match(l))]
    probes = next((m for l in text if (m := PROBES.match(l))), None)
    summary = [l for l in text if l.startswith(("probes:", "fds:", "VmRSS", "FAIL"))]
    return {"exit": child.proc.returncode, "cpu_s": child.cpu_seconds(), "rounds": rounds,
            "slow_probes": slow, "failed_probes": int(probes.group(1)) if probes else None,
            "limit_ms": int(probes.group(2)) if probes else None, "summary": summary}


def scheduler_explains(d):
    """Whether the daemon's only failure is probes over the limit that each were within it once
    the time the daemon and the probe spent runnable without a CPU (schedstat run_delay) is
    taken out. The soak shares the CPUs with its own fuzzers on purpose, so such a probe
    measures the scheduler, not the daemon; any other failure, a probe that failed outright or
    one still over the limit without its waits is a finding. The hostile ctest, on a quiet
    machine, keeps the strict bound."""
    fails = [l for l in d["summary"] if l.startswith("FAIL ")]
    return (d["exit"] == 1 and d["failed_probes"] == 0 and d["slow_probes"] and
            all(l.startswith("FAIL probe latency") for l in fails) and
            all(p["own_ms"] <= d["limit_ms"] for p in d["slow_probes"]))


def findings(figures, args):
    """(findings, explained): each a list of one-line descriptions."""
    found, explained = [], []
    for target in TARGETS:
        f = figures[target]
        why = f["first_report"] or "see %s/%s.log" % (args.work, target)
        for a in f["artifacts"]:
            found.append("%s: %s: %s (replay: %s/fuzz/fuzz_%s %s)" % (
                target, why, a, args.fuzz_build, target, os.path.join(args.work, target, "artifacts", a)))
        if f["exit"] != 0 and not f["artifacts"]:
            found.append("%s: libFuzzer exited %d with no artifact (see %s/%s.log)"
                         % (target, f["exit"], args.work, target))
    d = figures["daemon"]
    if d["exit"] != 0 and scheduler_explains(d):
        worst = max(d["slow_probes"], key=lambda p: p["ms"])
        explained.append(
            "daemon: %d of the probes took over %d ms; each was within it without the time the "
            "daemon and the probe waited for a CPU (the worst: %.1f ms at %.0f s, round %d, %s, "
            "of which the daemon waited %.1f ms and the probe %.1f ms; %.1f ms without)" % (
                len(d["slow_probes"]), d["limit_ms"], worst["ms"], worst["at_s"], worst["round"],
                worst["phase"], worst["daemon_wait_ms"], worst["probe_wait_ms"], worst["own_ms"]))
    elif d["exit"] != 0:
        found.append("daemon: vhost_hostile exited %d: %s" % (d["exit"], "; ".join(
            l for l in d["summary"] if l.startswith("FAIL")) or "see %s/daemon.log" % args.work))
    return found, explained


def commit():
    r = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True,
                       text=True)
    return r.stdout.strip() or "unknown"


def markdown(figures, found, explained, args, wall_s):
    budget = (" Each fuzzer was stopped once it had %d CPU s (`--cpu-seconds`), the wall time "
              "capped at %d s." % (args.cpu_seconds, args.seconds)) if args.cpu_seconds else ""
    command = "bash tools/soak.sh %d %s%s" % (args.seconds, args.report_name, (
        " --cpu-seconds %d" % args.cpu_seconds) if args.cpu_seconds else "")
    out = ["# Soak", "",
           "Generated by `%s` (tools/soak.py) on %s at commit %s; wall %.0f s, the processes and their autogroups at nice %d. Both "
           "fuzz targets ran under ASan+UBSan (build/fuzz, libFuzzer) on a copy of their shipped "
           "corpus; the daemon (build/default) took one round of bench/vhost_hostile every %g s."
           "%s" % (command, time.strftime("%Y-%m-%d"), args.commit, wall_s, args.nice, args.pause, budget), "",
           "| target | CPU s | execs | exec/s | cov start → end | ft start → end | corpus | peak RSS MB | findings |",
           "|---|---:|---:|---:|---|---|---:|---:|---:|"]
    for t in TARGETS:
        f = figures[t]
        out.append("| fuzz_%s | %.0f | %d | %d | %s → %s | %s → %s | %d | %d | %d |" % (
            t, f["cpu_s"], f["execs"], f["exec_per_s"], f["cov_start"], f["cov_end"],
            f["ft_start"], f["ft_end"], f["corpus_end"], f["peak_rss_mb"], len(f["artifacts"])))
    d = figures["daemon"]
    out += ["", "## Coverage curves (time s: execs, cov, ft, RSS MB)", ""]
    for t in TARGETS:
        out.append("- fuzz_%s: " % t + "; ".join("%d s: %d, %d, %d, %d" % (
            p["t"], p["execs"], p["cov"], p["ft"], p["rss_mb"]) for p in figures[t]["curve"]))
    out += ["", "## Daemon under hostile load", "",
            "%d rounds, %.0f CPU s (the load generator, its probe and the daemon, its child). "
            "After each round, once settled:" % (len(d["rounds"]), d["cpu_s"]), "",
            "| round | at s | fds | VmRSS kB | slowest probe ms |", "|---:|---:|---:|---:|---:|"]
    step = max(1, len(d["rounds"]) // 12)
    for r in d["rounds"][::step] + ([d["rounds"][-1]] if d["rounds"] and (len(d["rounds"]) - 1) % step else []):
        out.append("| %d | %.0f | %d | %d | %.1f |" % (r["round"], r["t"], r["fds"], r["rss_kb"],
                                                     r["probe_max_ms"]))
    out += [""] + ["    " + l for l in d["summary"]]
    if d["slow_probes"]:
        out += ["", "Probes over the limit, with the time the daemon and the probe were runnable "
                "without a CPU (`/proc/.../schedstat` run_delay) during each:", "",
                "| at s | round | phase | ms | daemon waited ms | probe waited ms | without the waits ms |",
                "|---:|---:|---|---:|---:|---:|---:|"]
        out += ["| %.1f | %d | %s | %.1f | %.1f | %.1f | %.1f |" % (
            p["at_s"], p["round"], p["phase"], p["ms"], p["daemon_wait_ms"], p["probe_wait_ms"],
            p["own_ms"]) for p in d["slow_probes"]]
    out += ["", "## Findings", ""] + (["- " + f for f in found] or ["None."])
    if explained:
        out += ["", "## Explained (not findings)", ""] + ["- " + e for e in explained]
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, required=True)
    ap.add_argument("--report", required=True, help="markdown report; FILE.json beside it")
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "soak", "run"))
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "default"))
    ap.add_argument("--fuzz-build", default=os.path.join(ROOT, "build", "fuzz"))
    ap.add_argument("--pause", type=float, default=None, help="seconds between hostile rounds")
    ap.add_argument("--nice", type=int, default=0)
    ap.add_argument("--cpu-seconds", type=int, default=0,
                    help="stop each fuzzer once it has had this much CPU (0: run --seconds)")
    ap.add_argument("--mutant", help="TARGET=NAME: that target fuzzes a mutant (negative check)")
    ap.add_argument("--daemon-inject", choices=("stall",),
                    help="stall: the daemon is stopped (SIGSTOP) for 250 ms in every round, a "
                         "delay the scheduler does not explain (negative check)")
    try:
        args = ap.parse_args()
    except SystemExit as e:
        return 0 if e.code == 0 else 2
    if args.seconds < 10:
        print("soak.py: --seconds must be at least 10", file=sys.stderr)
        return 2
    if args.mutant:
        args.mutant = tuple(args.mutant.split("=", 1))
        if len(args.mutant) != 2 or args.mutant[0] not in TARGETS:
            print("soak.py: --mutant takes TARGET=NAME, TARGET one of %s" % ", ".join(TARGETS),
                  file=sys.stderr)
            return 2
    args.pause = args.pause if args.pause is not None else min(60.0, max(5.0, args.seconds / 60))
    args.report_name = os.path.relpath(args.report, ROOT)
    needed = [os.path.join(args.fuzz_build, "fuzz", "fuzz_" + t) for t in TARGETS] + [
        os.path.join(args.build, "bench", "vhost_hostile"),
        os.path.join(args.build, "tools", "lockstep-vhost-backend")]
    missing = [n for n in needed if not os.access(n, os.X_OK)]
    if missing:
        print("soak.py: missing %s (tools/soak.sh builds them)" % ", ".join(missing), file=sys.stderr)
        return 3
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    t0 = time.monotonic()
    args.commit = commit()  # what is soaked: the tree may move while a long soak runs
    children = start(args, args.work)
    run_to_budget(children, args.cpu_seconds)
    figures = {t: fuzzer_figures(children[t], args.work) for t in TARGETS}
    figures["daemon"] = daemon_figures(children["daemon"])
    found, explained = findings(figures, args)
    os.makedirs(os.path.dirname(os.path.abspath(args.report)), exist_ok=True)
    with open(args.report, "w") as f:
        f.write(markdown(figures, found, explained, args, time.monotonic() - t0))
    with open(os.path.splitext(args.report)[0] + ".json", "w") as f:
        json.dump({"schema": "lockstep-soak/2", "seconds": args.seconds, "figures": figures,
                   "findings": found, "explained": explained}, f, indent=1, sort_keys=True)
    for t in TARGETS:
        print("fuzz_%s: %.0f CPU s, %d execs, cov %s -> %s, %d artifacts" % (
            t, figures[t]["cpu_s"], figures[t]["execs"], figures[t]["cov_start"],
            figures[t]["cov_end"], len(figures[t]["artifacts"])))
    print("daemon: %d rounds, exit %d" % (len(figures["daemon"]["rounds"]), figures["daemon"]["exit"]))
    print("\n".join(["FINDING " + f for f in found] + ["EXPLAINED " + e for e in explained])
          or "no findings")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
