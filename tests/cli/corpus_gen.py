#!/usr/bin/env python3
"""`lockstep corpus gen` writes a transition-complete corpus: into a temporary directory, every
program replays on the model with its notes and, replayed through the same abstraction, they
cover every reachable (state class, op class) pair. Then the check is made to fire: a program
with one note changed is reported (exit 1), and with one program removed the coverage falls
short of the reachable pairs.

  corpus_gen.py LOCKSTEP_BINARY PROTOCOL
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

REACHABLE = re.compile(r"(\d+) reachable \(state class, op class\) pairs")
COVER = re.compile(r"cover (\d+) of the (\d+) reachable .*; (\d+) notes disagree")


def lockstep(binary, *args):
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)


def coverage(binary, protocol, directory):
    p = lockstep(binary, "corpus", "gen", "--protocol", protocol, "--cover", directory)
    m = COVER.search(p.stdout)
    return p.returncode, (tuple(int(g) for g in m.groups()) if m else None), p.stdout + p.stderr


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    binary, protocol = os.path.abspath(sys.argv[1]), sys.argv[2]
    failures = []
    with tempfile.TemporaryDirectory(prefix="lockstep-corpus-gen-") as out:
        gen = lockstep(binary, "corpus", "gen", "--protocol", protocol, "--out", out)
        m = REACHABLE.search(gen.stdout)
        programs = sorted(glob.glob(os.path.join(out, "*.txt")))
        if gen.returncode != 0 or not m or not programs:
            print(f"corpus gen exited {gen.returncode}:\n{gen.stdout}{gen.stderr}")
            return 1
        reachable = int(m.group(1))
        code, cov, text = coverage(binary, protocol, out)
        if code != 0 or cov != (reachable, reachable, 0):
            failures.append(f"generated corpus: exit {code}, {cov}, want "
                            f"({reachable}, {reachable}, 0)\n{text}")
        # Negative 1: one note changed is a disagreement.
        victim = programs[-1]
        with open(victim) as f:
            original = f.read()
        lines = original.rstrip("\n").split("\n")
        lines[-1] = re.sub(r"#.*$", "# = closed" if protocol == "vhost" else "# ENOSYS", lines[-1])
        with open(victim, "w") as f:
            f.write("\n".join(lines) + "\n")
        code, cov, text = coverage(binary, protocol, out)
        if code != 1 or not cov or cov[2] != 1:
            failures.append(f"a changed note went unreported: exit {code}, {cov}\n{text}")
        # Negative 2: a program removed leaves a pair uncovered.
        os.remove(victim)
        code, cov, text = coverage(binary, protocol, out)
        if not cov or cov[0] >= reachable:
            failures.append(f"a removed program left coverage at {cov}\n{text}")
    for f in failures:
        print("FAIL", f)
    print(f"{protocol}: {len(programs)} programs cover {reachable}/{reachable} pairs; "
          + ("the check fires on a changed note and a removed program" if not failures
             else "FAILED"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
