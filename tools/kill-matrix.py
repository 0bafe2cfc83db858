#!/usr/bin/env python3
"""The kill matrix: how fast each fuzz engine kills each implementation mutant.

For every mutant x engine (libFuzzer, AFL++) x start (empty, shipped corpus) x seed, runs the
protocol's fuzz target with LOCKSTEP_IMPL_MUTANT=<mutant> until it aborts or the timeout passes.
A run is a *kill* when the target aborted with a `lockstep: divergence` or `lockstep: fd-leak`
signature; any other abort is reported as a harness crash. Writes every run and the medians as
JSON, and a markdown table into docs/mutants.md between `<!-- mutants: kill matrix -->` and
`<!-- /mutants: kill matrix -->` (other sections of that file are left as they are).

  tools/kill-matrix.py --build-fuzz build/fuzz --build-afl build/afl \
      --lockstep build/default/tools/lockstep --runs 5 --timeout 60 \
      --out docs/mutants.json --md docs/mutants.md

Mutants: from `lockstep mutants --json` (except field "race": ThreadSanitizer's, not a fuzzer's)
when the binary has that command, else the nine
mutants the targets had before it existed. Starts: `empty` is an empty corpus directory for
libFuzzer and, since afl-fuzz needs one input, a single one-byte seed (0x00, which decodes to the
empty trace) for AFL++; `corpus` is a copy of corpus/<target>/. No dictionary in either.
Engines: libFuzzer runs the `fuzz` preset's targets (ASan + UBSan) with -seed=<seed>; AFL++ runs
the `afl` preset's with `-s <seed>` and AFL_BENCH_UNTIL_CRASH=1, and a crash counts once its
file, replayed by the same binary, aborts with a signature.

The runs take /tmp/lockstep-build.lock in chunks of at most --chunk-seconds of worst-case run
time (the shared-machine rule); time to kill is measured inside the lock. Results are written
after every run, and a second invocation with the same --out skips the runs already there
(--fresh starts over). Exit status: 0 when the matrix is complete, 1 when runs were skipped or
failed to start, 2 for bad arguments. `--self-test` checks the tool against fake targets.
"""
import argparse
import datetime
import fcntl
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

FALLBACK_MUTANTS = [
    ("mshv", "del-keeps-ref"), ("mshv", "no-dup-check"), ("mshv", "release-keeps-files"),
    ("vhost", "end-keeps-uffd"), ("vhost", "advise-second-uffd"), ("vhost", "advise-keeps-fds"),
    ("vhost", "listen-without-advise"), ("vhost", "no-ack-check"),
    ("vhost", "disconnect-leaks-uffd"),
]
TARGETS = {"mshv": "mshv_device", "vhost": "vhost_postcopy"}  # protocol -> fuzz target name
ENGINES = ("libfuzzer", "afl")
STARTS = ("empty", "corpus")
BEGIN, END = "<!-- mutants: kill matrix -->", "<!-- /mutants: kill matrix -->"
LIST_BEGIN, LIST_END = "<!-- mutants: list -->", "<!-- /mutants: list -->"
SIGNATURE = re.compile(r"^(lockstep: (?:divergence|fd-leak) \S+)", re.M)
CRASH = re.compile(r"ERROR: (?:libFuzzer|AddressSanitizer|UndefinedBehaviorSanitizer)|"
                   r"runtime error:|^Aborted|terminate called", re.M)


def load_mutants(lockstep):
    """[(protocol, name)] from `lockstep mutants --json`, or the fallback list."""
    if lockstep:
        try:
            out = subprocess.run([lockstep, "mutants", "--json"], capture_output=True,
                                 text=True, timeout=30)
            if out.returncode == 0:
                # A "race" mutant is a data race that only ThreadSanitizer sees (the tsan preset's
                # stress tests); a fuzz target drives the layer from one thread and cannot kill it.
                return [(m["protocol"], m["name"]) for m in json.loads(out.stdout)
                        if m.get("field") != "race"], "lockstep"
        except (OSError, ValueError, KeyError, TypeError, subprocess.TimeoutExpired):
            pass
    return list(FALLBACK_MUTANTS), "fallback"


class Lock:
    """The shared build lock, held for one chunk of runs."""

    def __init__(self, path):
        self.path = path
        self.fd = None

    def __enter__(self):
        if self.path:
            self.fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o666)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def prepare_inputs(work, start, corpus_dir, engine):
    inputs = os.path.join(work, "in")
    os.makedirs(inputs)
    if start == "corpus":
        for name in sorted(os.listdir(corpus_dir)):
            shutil.copy(os.path.join(corpus_dir, name), inputs)
    elif engine == "afl":
        with open(os.path.join(inputs, "empty"), "wb") as f:
            f.write(b"\0")
    return inputs


def classify(text):
    """(status, signature) of a finished run's output."""
    m = SIGNATURE.search(text)
    if m:
        return "killed", m.group(1)
    if CRASH.search(text):
        return "crash", None
    return "survived", None


def run_libfuzzer(binary, inputs, work, seed, timeout, env):
    cmd = [binary, f"-seed={seed}", f"-max_total_time={timeout}", "-print_final_stats=1",
           f"-artifact_prefix={work}/", "-timeout=10", inputs]
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, errors="replace",
                           timeout=timeout + 30)
        text = p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        text = (e.stdout or b"").decode(errors="replace") + (e.stderr or b"").decode(
            errors="replace")
    seconds = time.monotonic() - t0
    status, signature = classify(text)
    m = re.findall(r"stat::number_of_executed_units:\s*(\d+)", text)
    execs = int(m[-1]) if m else None
    if status != "killed":
        seconds = min(seconds, float(timeout))
    return {"status": status, "signature": signature, "seconds": round(seconds, 2),
            "execs": execs}


def afl_stats(out_dir):
    stats = {}
    path = os.path.join(out_dir, "default", "fuzzer_stats")
    if os.path.exists(path):
        for line in open(path):
            if ":" in line:
                k, v = line.split(":", 1)
                stats[k.strip()] = v.strip()
    return stats


def run_afl(binary, inputs, work, seed, timeout, env):
    out = os.path.join(work, "out")
    env = dict(env, AFL_NO_UI="1", AFL_SKIP_CPUFREQ="1", AFL_NO_AFFINITY="1",
               AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES="1", AFL_BENCH_UNTIL_CRASH="1",
               AFL_SKIP_BIN_CHECK="0", AFL_FAST_CAL="1")
    cmd = ["afl-fuzz", "-i", inputs, "-o", out, "-s", str(seed), "-V", str(timeout), "--",
           binary]
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, errors="replace",
                           timeout=timeout + 60)
        log = p.stdout + p.stderr
    except subprocess.TimeoutExpired:
        log = "afl-fuzz did not stop"
    wall = time.monotonic() - t0
    crash_dir = os.path.join(out, "default", "crashes")
    crashes = sorted(f for f in os.listdir(crash_dir) if f.startswith("id:")) \
        if os.path.isdir(crash_dir) else []
    stats = afl_stats(out)
    execs = int(stats["execs_done"]) if "execs_done" in stats else None
    if not crashes:
        status = "survived" if stats else "error"
        return {"status": status, "signature": None, "seconds": round(min(wall, timeout), 2),
                "execs": execs, **({"log": log[-2000:]} if status == "error" else {})}
    first = crashes[0]
    replay = subprocess.run([binary, os.path.join(crash_dir, first)], env=env,
                            capture_output=True, text=True, errors="replace", timeout=60)
    status, signature = classify(replay.stdout + replay.stderr)
    if status == "survived":
        status = "crash"  # afl-fuzz saw a crash the replay does not show: not a kill
    fields = dict(kv.split(":", 1) for kv in first.split(",") if ":" in kv)
    seconds = int(fields["time"]) / 1000.0 if fields.get("time", "").isdigit() else wall
    if fields.get("execs", "").isdigit():
        execs = int(fields["execs"])
    return {"status": status, "signature": signature, "seconds": round(seconds, 2),
            "execs": execs}


def run_one(args, job):
    protocol, mutant, engine, start, seed = job
    target = TARGETS[protocol]
    build = args.build_fuzz if engine == "libfuzzer" else args.build_afl
    binary = os.path.join(build, "fuzz", f"fuzz_{target}")
    if not os.access(binary, os.X_OK):
        return {"status": "error", "signature": None, "seconds": None, "execs": None,
                "log": f"no executable {binary}"}
    work = tempfile.mkdtemp(prefix="kill-matrix-")
    try:
        inputs = prepare_inputs(work, start, os.path.join(args.corpus_root, target), engine)
        env = dict(os.environ, LOCKSTEP_IMPL_MUTANT=mutant)
        runner = run_libfuzzer if engine == "libfuzzer" else run_afl
        return runner(binary, inputs, work, seed, args.timeout, env)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def key(r):
    return (r["mutant"], r["engine"], r["start"], r["seed"])


def summarise(results, timeout):
    groups = {}
    for r in results:
        groups.setdefault((r["protocol"], r["mutant"], r["engine"], r["start"]), []).append(r)
    rows = []
    for (protocol, mutant, engine, start), runs in sorted(groups.items()):
        killed = [r for r in runs if r["status"] == "killed"]
        # A run that did not kill counts as "more than the timeout" in the median.
        times = sorted(r["seconds"] if r["status"] == "killed" else float("inf") for r in runs)
        execs = sorted(r["execs"] for r in killed if r["execs"] is not None)
        median_time = statistics.median(times) if times else None
        rows.append({
            "protocol": protocol, "mutant": mutant, "engine": engine, "start": start,
            "runs": len(runs), "killed": len(killed),
            "crashes": sum(r["status"] == "crash" for r in runs),
            "errors": sum(r["status"] == "error" for r in runs),
            "median_seconds": None if median_time in (None, float("inf")) else median_time,
            "max_seconds": max((r["seconds"] for r in killed), default=None),
            "median_execs": statistics.median(execs) if execs and len(killed) * 2 > len(runs)
            else None,
        })
    return rows


def cell(row, timeout):
    if row is None:
        return "–"
    text = f"{row['killed']}/{row['runs']}"
    if row["median_seconds"] is not None:
        text += f", {row['median_seconds']:.1f} s"
        if row["median_execs"] is not None:
            text += f", {int(row['median_execs']):,} ex"
    else:
        text += f", > {timeout} s"
    if row["crashes"]:
        text += f", {row['crashes']} harness crash"
    if row.get("errors"):
        text += f", {row['errors']} did not start (engine error)"
    return text


def markdown(data):
    summary = data["summary"]
    cols = [(e, s) for e in ENGINES for s in STARTS
            if any(r["engine"] == e and r["start"] == s for r in summary)]
    names = {"libfuzzer": "libFuzzer", "afl": "AFL++"}
    lines = [
        f"Kill matrix ({data['generated']}, {data['mutant_source']} mutant list): per cell, runs "
        f"that killed the mutant / runs, then the median time to kill and the median executions "
        f"to kill (runs that did not kill count as more than {data['timeout']} s). A kill is an "
        "abort with a `lockstep: divergence` or `lockstep: fd-leak` signature. `empty`: an "
        "empty corpus directory (AFL++: one 1-byte seed, 0x00); `corpus`: the shipped "
        "corpus/<target>/; no dictionary. libFuzzer: the `fuzz` preset (ASan + UBSan); AFL++: "
        "the `afl` preset, no sanitizer. `–`: not measured.",
        *[f"{names[e]} was not run for this table: no figure here is from it." for e in ENGINES
          if not any(r["engine"] == e for r in summary)],
        "",
        "```sh", *data.get("commands", []), "```", "",
        "| protocol | mutant | " + " | ".join(f"{names[e]} {s}" for e, s in cols) + " |",
        "|---|---|" + "---|" * len(cols),
    ]
    index = {(r["mutant"], r["engine"], r["start"]): r for r in summary}
    for protocol, mutant in data["mutants"]:
        cells = [cell(index.get((mutant, e, s)), data["timeout"]) for e, s in cols]
        lines.append(f"| {protocol} | `{mutant}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_markdown(path, body):
    text = open(path).read() if os.path.exists(path) else (
        "# Implementation mutants\n\n" + LIST_BEGIN + "\n" + LIST_END + "\n\n" + BEGIN + "\n" +
        END + "\n")
    if BEGIN not in text or END not in text:
        text = text.rstrip("\n") + "\n\n" + BEGIN + "\n" + END + "\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(path, "w") as f:
        f.write(head + BEGIN + "\n" + body + END + tail)


def plan(args, mutants):
    engines = args.engines.split(",")
    starts = args.starts.split(",")
    wanted = set(args.mutants.split(",")) if args.mutants else None
    jobs = []
    for protocol, mutant in mutants:
        if wanted and mutant not in wanted:
            continue
        for engine in engines:
            for start in starts:
                for seed in range(1, args.runs + 1):
                    jobs.append((protocol, mutant, engine, start, seed))
    return jobs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-fuzz", default="build/fuzz")
    ap.add_argument("--build-afl", default="build/afl")
    ap.add_argument("--lockstep", default="build/default/tools/lockstep")
    ap.add_argument("--corpus-root", default="corpus")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--timeout", type=int, default=60)
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--starts", default=",".join(STARTS))
    ap.add_argument("--mutants", default="", help="comma-separated names (default: all)")
    ap.add_argument("--out", default="docs/mutants.json")
    ap.add_argument("--md", default="docs/mutants.md")
    ap.add_argument("--lock", default="/tmp/lockstep-build.lock", help="'' for none")
    ap.add_argument("--chunk-seconds", type=int, default=300)
    ap.add_argument("--fresh", action="store_true", help="ignore results already in --out")
    ap.add_argument("--dry-run", action="store_true", help="print the runs to do and stop")
    ap.add_argument("--render", action="store_true", help="rewrite --md from --out and stop")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args(argv)
    if args.self_test:
        return self_test()
    bad = [e for e in args.engines.split(",") if e not in ENGINES] + \
        [s for s in args.starts.split(",") if s not in STARTS]
    if bad or args.runs < 1 or args.timeout < 1:
        print(f"kill-matrix: bad --engines/--starts/--runs/--timeout: {bad}", file=sys.stderr)
        return 2
    if args.render:
        data = json.load(open(args.out))
        data["summary"] = summarise(data["results"], data["timeout"])
        write_markdown(args.md, markdown(data))
        return 0
    mutants, source = load_mutants(args.lockstep)
    unknown = set(filter(None, args.mutants.split(","))) - {m for _, m in mutants}
    if unknown:
        print(f"kill-matrix: unknown mutants {sorted(unknown)}", file=sys.stderr)
        return 2
    data = {"results": []}
    if os.path.exists(args.out) and not args.fresh:
        data = json.load(open(args.out))
    done = {key(r) for r in data["results"] if r["status"] != "error"}
    data["results"] = [r for r in data["results"] if r["status"] != "error"]
    todo = [j for j in plan(args, mutants) if (j[1], j[2], j[3], j[4]) not in done]
    print(f"kill-matrix: {len(mutants)} mutants ({source}), {len(todo)} runs to do")
    if args.dry_run:
        for j in todo:
            print("  " + " ".join(map(str, j)))
        return 0
    command = "tools/kill-matrix.py " + " ".join(argv if argv is not None else sys.argv[1:])
    data.update({
        "commands": data.get("commands", []) + [command],  # every invocation that added runs
        "timeout": args.timeout, "mutant_source": source,
        "mutants": [list(m) for m in mutants],
    })

    def save():
        data["generated"] = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC")
        data["summary"] = summarise(data["results"], args.timeout)
        with open(args.out, "w") as f:
            json.dump(data, f, indent=1)
            f.write("\n")
        if args.md:
            write_markdown(args.md, markdown(data))

    errors = 0
    worst_run = args.timeout + 30  # a run's timeout plus start-up, corpus copy and replay
    while todo:
        # One chunk under the lock: runs while the next one, at its worst, still fits.
        with Lock(args.lock):
            t0, ran = time.monotonic(), 0
            while todo and (not ran or time.monotonic() - t0 + worst_run <= args.chunk_seconds):
                job = todo.pop(0)
                ran += 1
                r = run_one(args, job)
                protocol, mutant, engine, start, seed = job
                data["results"].append({"protocol": protocol, "mutant": mutant, "engine": engine,
                                        "start": start, "seed": seed, **r})
                errors += r["status"] == "error"
                print(f"  {mutant:24} {engine:9} {start:6} seed {seed}: {r['status']:8} "
                      f"{r['seconds']} s {r['execs']} execs {r['signature'] or ''}", flush=True)
        save()
    save()
    return 1 if errors else 0


# ---- self-test -------------------------------------------------------------------------------

FAKE_TARGET = r"""#!/bin/sh
# A fake fuzz target: the mutant named in LOCKSTEP_IMPL_MUTANT says what it does.
case "$LOCKSTEP_IMPL_MUTANT" in
  dies) echo "lockstep: divergence fake/OP/err" >&2; echo "stat::number_of_executed_units: 42" >&2; exit 1 ;;
  leaks) echo "lockstep: fd-leak fake" >&2; echo "stat::number_of_executed_units: 7" >&2; exit 1 ;;
  crashes) echo "==1==ERROR: AddressSanitizer: heap-use-after-free" >&2; exit 1 ;;
  *) echo "stat::number_of_executed_units: 1000" >&2; exit 0 ;;
esac
"""
FAKE_LOCKSTEP = r"""#!/bin/sh
[ "$1 $2" = "mutants --json" ] || exit 1
echo '[{"protocol":"mshv","name":"dies","summary":"s","field":"f"},
 {"protocol":"vhost","name":"leaks","summary":"s","field":"f"},
 {"protocol":"mshv","name":"crashes","summary":"s","field":"f"},
 {"protocol":"vhost","name":"survives","summary":"s","field":"f"},
 {"protocol":"mshv","name":"races","summary":"s","field":"race"}]'
"""


def self_test():
    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)

    with tempfile.TemporaryDirectory() as d:
        build = os.path.join(d, "build")
        os.makedirs(os.path.join(build, "fuzz"))
        for t in TARGETS.values():
            path = os.path.join(build, "fuzz", f"fuzz_{t}")
            open(path, "w").write(FAKE_TARGET)
            os.chmod(path, 0o755)
            os.makedirs(os.path.join(d, "corpus", t))
            open(os.path.join(d, "corpus", t, "a.bin"), "wb").write(b"\0")
        lockstep = os.path.join(d, "lockstep")
        open(lockstep, "w").write(FAKE_LOCKSTEP)
        os.chmod(lockstep, 0o755)
        md = os.path.join(d, "mutants.md")
        open(md, "w").write("# M\n\n" + LIST_BEGIN + "\nlist kept\n" + LIST_END + "\n")
        out = os.path.join(d, "m.json")
        common = ["--build-fuzz", build, "--lockstep", lockstep, "--corpus-root",
                  os.path.join(d, "corpus"), "--engines", "libfuzzer", "--runs", "2",
                  "--timeout", "5", "--out", out, "--md", md, "--lock", ""]
        check(main(common) == 0, "a complete matrix exits 0")
        data = json.load(open(out))
        status = {(r["mutant"], r["start"]): r["status"] for r in data["results"]}
        check(status.get(("dies", "empty")) == "killed", "a divergence is a kill")
        check(status.get(("leaks", "corpus")) == "killed", "an fd leak is a kill")
        check(status.get(("crashes", "empty")) == "crash", "a sanitizer abort is a harness crash")
        check(status.get(("survives", "empty")) == "survived", "no signature is no kill")
        check(len(data["results"]) == 16, "4 mutants x 2 starts x 2 runs")
        check(all(r["mutant"] != "races" for r in data["results"]), "a race mutant is not run")
        row = {(r["mutant"], r["start"]): r for r in data["summary"]}
        check(row[("dies", "empty")]["median_execs"] == 42, "median execs to kill")
        check(row[("survives", "empty")]["median_seconds"] is None, "no median for survivors")
        text = open(md).read()
        check("list kept" in text and LIST_BEGIN in text, "the mutant list section is kept")
        check(text.count(BEGIN) == 1 and "| mshv | `dies` | 2/2" in text, "the table is written")
        check("AFL++ was not run for this table" in text, "an engine not run is named")
        check(main(common + ["--dry-run"]) == 0, "dry run")
        before = len(json.load(open(out))["results"])
        check(main(common + ["--runs", "3", "--mutants", "dies"]) == 0, "resume")
        check(len(json.load(open(out))["results"]) == before + 2, "resume runs only new seeds")
        no_cmd = os.path.join(d, "old-lockstep")
        open(no_cmd, "w").write("#!/bin/sh\nexit 109\n")
        os.chmod(no_cmd, 0o755)
        check(load_mutants(no_cmd) == (FALLBACK_MUTANTS, "fallback"), "fallback mutant list")
        check(main(common + ["--engines", "honggfuzz"]) == 2, "an unknown engine is refused")
        check(main(common + ["--mutants", "nope"]) == 2, "an unknown mutant is refused")
        missing = common + ["--fresh", "--build-fuzz", os.path.join(d, "none")]
        check(main(missing) == 1, "a missing target is an error, exit 1")
    for f in failures:
        print("kill-matrix self-test FAILED: " + f, file=sys.stderr)
    print("kill-matrix self-test: " + ("ok" if not failures else f"{len(failures)} failures"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
