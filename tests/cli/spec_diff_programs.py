#!/usr/bin/env python3
"""The programs of `lockstep spec --diff A B` (docs/spec/diff-A-vs-B.md) show what they claim:
each replays on the model under A with its notes (exit 0); under B, replay reports the line
whose `# under B:` comment gives B's outcome (exit 1), or, where a `# same result, other ...`
comment says only the resources or the state class after differ, agrees with the notes. Then the check is made to
fire: a program whose `# under B` note is written in as A's expectation must fail under A.

  spec_diff_programs.py LOCKSTEP_BINARY SOURCE_ROOT
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

PROGRAM = re.compile(r"```\n(# lockstep .*?)```", re.S)
UNDER = re.compile(r"^# under (\S+): (.*)$", re.M)


def replay(binary, profile, text, scratch):
    path = os.path.join(scratch, "program.txt")
    with open(path, "w") as f:
        f.write(text)
    return subprocess.run([binary, "replay", "--target", "model", "--profile", profile, path],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def check_file(binary, path, scratch):
    a, b = re.match(r"diff-(.+)-vs-(.+)\.md$", os.path.basename(path)).groups()
    failures, programs = [], PROGRAM.findall(open(path).read())
    for i, text in enumerate(programs):
        ra, rb = replay(binary, a, text, scratch), replay(binary, b, text, scratch)
        want_b = 1 if UNDER.search(text) else 0
        if ra.returncode != 0 or rb.returncode != want_b:
            failures.append(f"{path} program {i + 1}: {a} exit {ra.returncode} (want 0), "
                            f"{b} exit {rb.returncode} (want {want_b})\n{text}{rb.stdout}")
        elif want_b == 0 and "# same result, other" not in text:
            failures.append(f"{path} program {i + 1}: no difference shown\n{text}")
    return failures, programs, a


def negative(binary, programs, a, scratch):
    """A program made to expect B's outcome under A is refused: the check can fail."""
    for text in programs:
        m = UNDER.search(text)
        if not m:
            continue
        lines = text[m.end() + 1:].split("\n", 1)  # the op the comment is about
        op = re.sub(r"#.*$", "# " + m.group(2), lines[0])
        broken = text[:m.start()] + op + "\n" + (lines[1] if len(lines) > 1 else "")
        r = replay(binary, a, broken, scratch)
        return [] if r.returncode == 1 else [f"a broken program replayed with exit "
                                             f"{r.returncode} under {a}:\n{broken}{r.stdout}"]
    return ["no program with a different outcome to break"]


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    binary, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    files = sorted(glob.glob(os.path.join(source, "docs/spec/diff-*.md")))
    failures, total = [], 0
    with tempfile.TemporaryDirectory(prefix="lockstep-spec-diff-") as scratch:
        for path in files:
            f, programs, a = check_file(binary, path, scratch)
            failures += f
            total += len(programs)
            if programs and UNDER.search("".join(programs)):
                failures += negative(binary, programs, a, scratch)
    for f in failures:
        print("FAIL", f)
    print(f"{total} programs in {len(files)} diffs: " +
          ("each shows its difference" if not failures and total else "FAILED"))
    return 1 if failures or not total else 0


if __name__ == "__main__":
    sys.exit(main())
