#!/usr/bin/env python3
"""corpus/proofs/ is what `lockstep prove --emit-corpus` writes today: the counterexamples of
every invariant that fails on a profile (the negative variants and the third-party profiles),
as programs (.txt) and fuzz inputs (.bin), regenerated protocol by protocol into a temporary
directory and compared file by file with the committed ones. Any missing, extra or differing
file fails, with the diff and the command that refreshes the directory.

  proofs_corpus_fresh.py LOCKSTEP_BINARY CORPUS_PROOFS_DIR              the check
  proofs_corpus_fresh.py LOCKSTEP_BINARY CORPUS_PROOFS_DIR --self-test  it fires on tampered copies
"""
import difflib
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile

PROTOCOLS = ("mshv", "vhost")
REFRESH = ("rm -rf corpus/proofs/mshv corpus/proofs/vhost && for p in mshv vhost; do "
           "build/default/tools/lockstep prove --protocol $p --emit-corpus corpus/proofs/$p; done")


def regenerate(binary, out):
    """Every protocol's counterexamples under out/<protocol>/; None, or why it failed."""
    for protocol in PROTOCOLS:
        p = subprocess.run([binary, "prove", "--protocol", protocol, "--emit-corpus",
                            os.path.join(out, protocol)], capture_output=True, text=True,
                           timeout=300, stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            return (f"lockstep prove --protocol {protocol} exited {p.returncode}:\n" + p.stdout +
                    p.stderr)
    return None


def differences(fresh, committed):
    """One message per file that is missing from, extra in or differs in `committed`."""
    problems = []
    for protocol in PROTOCOLS:
        a, b = os.path.join(fresh, protocol), os.path.join(committed, protocol)
        names_a = set(os.listdir(a)) if os.path.isdir(a) else set()
        names_b = set(os.listdir(b)) if os.path.isdir(b) else set()
        for name in sorted(names_a - names_b):
            problems.append(f"missing: corpus/proofs/{protocol}/{name} (prove writes it)")
        for name in sorted(names_b - names_a):
            problems.append(f"extra: corpus/proofs/{protocol}/{name} (prove no longer writes it)")
        for name in sorted(names_a & names_b):
            fa, fb = os.path.join(a, name), os.path.join(b, name)
            if filecmp.cmp(fa, fb, shallow=False):
                continue
            if name.endswith(".txt"):
                with open(fa, errors="replace") as x, open(fb, errors="replace") as y:
                    diff = difflib.unified_diff(y.readlines(), x.readlines(),
                                                f"committed/{protocol}/{name}",
                                                f"fresh/{protocol}/{name}")
                problems.append("differs:\n" + "".join(diff))
            else:
                problems.append(f"differs: corpus/proofs/{protocol}/{name} (binary)")
    return problems


def check(binary, committed):
    """0 when `committed` is fresh, 1 with the differences and the refresh command."""
    with tempfile.TemporaryDirectory(prefix="lockstep-proofs-fresh-") as fresh:
        failure = regenerate(binary, fresh)
        if failure:
            print(failure)
            return 1
        problems = differences(fresh, committed)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} stale file(s) under {committed}; refresh from the source root:\n"
              f"  {REFRESH}")
        return 1
    print(f"{committed}: every counterexample is what prove writes today")
    return 0


def self_test(binary, committed):
    """The check passes on an untouched copy and fires, naming the file, when one committed
    file is altered and when one is removed."""
    failures = []
    with tempfile.TemporaryDirectory(prefix="lockstep-proofs-self-test-") as scratch:
        def tampered(name, change):
            copy = os.path.join(scratch, name)
            shutil.copytree(committed, copy)
            victim = sorted(os.listdir(os.path.join(copy, "vhost")))[0]
            change(os.path.join(copy, "vhost", victim))
            return copy, victim

        def append(path):
            with open(path, "ab") as f:
                f.write(b"\n")
        for name, change, word in (("altered", append, "differs"),
                                   ("removed", os.remove, "missing")):
            copy, victim = tampered(name, change)
            p = subprocess.run([sys.executable, __file__, binary, copy], capture_output=True,
                               text=True, timeout=600)
            if p.returncode != 1 or word not in p.stdout or victim not in p.stdout \
                    or "--emit-corpus" not in p.stdout:
                failures.append(f"{name} {victim}: exit {p.returncode}\n{p.stdout}{p.stderr}")
    for f in failures:
        print("FAIL", f)
    print("self-test:", "the check fires" if not failures else "the check did not fire")
    return 1 if failures else 0


def main():
    binary, committed = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    if "--self-test" in sys.argv[3:]:
        return self_test(binary, committed)
    return check(binary, committed)


if __name__ == "__main__":
    sys.exit(main())
