#!/usr/bin/env python3
"""Generated files are what the generator writes today. Each KIND names a committed directory,
its sub-directories and the command that regenerates them into a temporary directory; the
two are compared file by file, and any missing, extra or differing file fails with the diff and
the command that refreshes the directory.
  proofs       corpus/proofs/<protocol>/: `lockstep prove --emit-corpus`, the counterexamples of
               every invariant that fails on a profile (negative variants, third-party profiles)
  regressions  tests/regressions/: `lockstep corpus to-gtest` over tests/regressions/inputs/

  generated_fresh.py KIND LOCKSTEP_BINARY SOURCE_ROOT              the check
  generated_fresh.py KIND LOCKSTEP_BINARY SOURCE_ROOT --self-test  it fires on tampered copies
"""
import difflib
import filecmp
import glob
import os
import shutil
import subprocess
import sys
import tempfile


def prove_commands(binary, _source, out):
    return [[binary, "prove", "--protocol", p, "--emit-corpus", os.path.join(out, p)]
            for p in ("mshv", "vhost")]


def to_gtest_commands(binary, source, out):
    inputs = sorted(glob.glob(os.path.join(source, "tests/regressions/inputs/*/*")))
    return [[binary, "corpus", "to-gtest", "--out", out] + inputs] if inputs else []


# KIND: (committed directory, the sub-directories compared, regenerating commands, refresh)
KINDS = {
    "proofs": ("corpus/proofs", ("mshv", "vhost"), prove_commands,
               "rm -rf corpus/proofs/mshv corpus/proofs/vhost && for p in mshv vhost; do "
               "build/default/tools/lockstep prove --protocol $p --emit-corpus corpus/proofs/$p; "
               "done"),
    "regressions": ("tests/regressions", (".",), to_gtest_commands,
                    "rm -f tests/regressions/*_test.cc && build/default/tools/lockstep corpus "
                    "to-gtest --out tests/regressions tests/regressions/inputs/*/*"),
}


def regenerate(kind, binary, source, out):
    """Runs the kind's commands into `out`; None, or why one failed."""
    for cmd in KINDS[kind][2](binary, source, out):
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                           stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            return f"{' '.join(cmd[1:4])} exited {p.returncode}:\n" + p.stdout + p.stderr
    return None


def generated_files(directory):
    """The names a generator owns in `directory`: regular files, not sub-directories, README
    notes (.md) or dotfiles (tests/regressions/.clang-format keeps formatters off them)."""
    if not os.path.isdir(directory):
        return set()
    return {n for n in os.listdir(directory) if os.path.isfile(os.path.join(directory, n))
            and not n.endswith(".md") and not n.startswith(".")}


def differences(kind, fresh, committed):
    """One message per file that is missing from, extra in or differs in `committed`."""
    problems, label = [], KINDS[kind][0]
    for sub in KINDS[kind][1]:
        a, b = os.path.normpath(os.path.join(fresh, sub)), os.path.normpath(os.path.join(committed, sub))
        names_a, names_b = generated_files(a), generated_files(b)
        where = os.path.normpath(os.path.join(label, sub))
        for name in sorted(names_a - names_b):
            problems.append(f"missing: {where}/{name} (the generator writes it)")
        for name in sorted(names_b - names_a):
            problems.append(f"extra: {where}/{name} (the generator no longer writes it)")
        for name in sorted(names_a & names_b):
            fa, fb = os.path.join(a, name), os.path.join(b, name)
            if filecmp.cmp(fa, fb, shallow=False):
                continue
            if not name.endswith(".bin"):
                with open(fa, errors="replace") as x, open(fb, errors="replace") as y:
                    diff = difflib.unified_diff(y.readlines(), x.readlines(),
                                                f"committed/{where}/{name}", f"fresh/{where}/{name}")
                problems.append("differs:\n" + "".join(diff))
            else:
                problems.append(f"differs: {where}/{name} (binary)")
    return problems


def check(kind, binary, source, committed):
    """0 when `committed` is fresh, 1 with the differences and the refresh command."""
    with tempfile.TemporaryDirectory(prefix="lockstep-fresh-") as fresh:
        failure = regenerate(kind, binary, source, fresh)
        if failure:
            print(failure)
            return 1
        problems = differences(kind, fresh, committed)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} stale file(s) under {committed}; refresh from the source root:\n"
              f"  {KINDS[kind][3]}")
        return 1
    print(f"{committed}: every file is what the generator writes today")
    return 0


def self_test(kind, binary, source, committed):
    """The check passes on an untouched copy and fires, naming the file, when one committed
    file is altered and when one is removed."""
    failures = []
    with tempfile.TemporaryDirectory(prefix="lockstep-fresh-self-test-") as scratch:
        def tampered(name, change):
            copy = os.path.join(scratch, name)
            shutil.copytree(committed, copy)
            sub = os.path.join(copy, KINDS[kind][1][-1])
            victim = sorted(generated_files(sub))[0]
            change(os.path.join(sub, victim))
            return copy, victim

        def append(path):
            with open(path, "ab") as f:
                f.write(b"\n")
        for name, change, word in (("altered", append, "differs"),
                                   ("removed", os.remove, "missing")):
            copy, victim = tampered(name, change)
            p = subprocess.run([sys.executable, __file__, kind, binary, source, "--committed", copy],
                               capture_output=True, text=True, timeout=600)
            if p.returncode != 1 or word not in p.stdout or victim not in p.stdout \
                    or KINDS[kind][3] not in p.stdout:
                failures.append(f"{name} {victim}: exit {p.returncode}\n{p.stdout}{p.stderr}")
    for f in failures:
        print("FAIL", f)
    print("self-test:", "the check fires" if not failures else "the check did not fire")
    return 1 if failures else 0


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in KINDS:
        print(__doc__, file=sys.stderr)
        return 2
    kind, binary, source = sys.argv[1], os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
    rest = sys.argv[4:]
    committed = os.path.abspath(rest[rest.index("--committed") + 1]) if "--committed" in rest \
        else os.path.join(source, KINDS[kind][0])
    if "--self-test" in rest:
        return self_test(kind, binary, source, committed)
    return check(kind, binary, source, committed)


if __name__ == "__main__":
    sys.exit(main())
