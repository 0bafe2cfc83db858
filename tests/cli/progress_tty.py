#!/usr/bin/env python3
"""The progress line of long commands (tools/progress.h): on stderr, redrawn in place with the
terminal's own carriage-return and clear-to-end-of-line (terminfo), at most ~10 times a second,
when stderr is a terminal (a pseudo-terminal here); nothing of it when stderr is a pipe or the
terminal cannot clear a line (TERM=dumb), and never on stdout.

  progress_tty.py LOCKSTEP_BINARY
"""
import curses
import os
import pty
import subprocess
import sys
import time


def under_pty(binary, args, term):
    """Runs with stderr on a new pseudo-terminal; returns (exit code, stdout, terminal bytes,
    seconds)."""
    master, slave = pty.openpty()
    start = time.monotonic()
    p = subprocess.Popen([binary, *args], stdout=subprocess.PIPE, stderr=slave,
                         stdin=subprocess.DEVNULL, env=dict(os.environ, TERM=term))
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every writer closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    out = p.stdout.read()
    p.wait()
    os.close(master)
    return p.returncode, out, seen, time.monotonic() - start


def main():
    binary = os.path.abspath(sys.argv[1])
    curses.setupterm("xterm", 1)
    cr, el = curses.tigetstr("cr"), curses.tigetstr("el")
    failures = []

    def check(label, condition, detail=b""):
        if not condition:
            failures.append(f"{label}\n{detail[-2000:]!r}")

    cases = [(["run", "mshv", "--seconds", "2"], b"lockstep run mshv: random+mutate ", b" traces, "),
             (["prove", "--protocol", "mshv"], b"lockstep prove: proofs ", b" rows, ")]
    for args, head, unit in cases:
        label = " ".join(args)
        code, out, seen, seconds = under_pty(binary, args, "xterm")
        check(f"{label}: exit 0", code == 0, out + seen)
        redraws = seen.count(cr + el)
        check(f"{label}: progress drawn with terminfo's cr and el", redraws >= 2, seen)
        check(f"{label}: the line names phase, count, rate and times",
              head in seen and unit in seen and b"/s, " in seen and b" elapsed" in seen, seen)
        check(f"{label}: at most ~10 redraws a second ({redraws} in {seconds:.1f} s)",
              redraws <= 10 * seconds + 3, seen)
        check(f"{label}: the line is cleared at the end", seen.endswith(cr + el), seen)
        check(f"{label}: stdout carries no progress", b"elapsed" not in out and cr not in out, out)

    # Negative: stderr a pipe, then a terminal that cannot clear a line.
    p = subprocess.run([binary, "run", "mshv", "--seconds", "1"], capture_output=True,
                       env=dict(os.environ, TERM="xterm"), timeout=60)
    check("pipe: exit 0", p.returncode == 0, p.stderr)
    check("pipe: no progress on stderr", b"elapsed" not in p.stderr and b"\r" not in p.stderr
          and b"\x1b" not in p.stderr, p.stderr)
    code, out, seen, _ = under_pty(binary, ["run", "mshv", "--seconds", "1"], "dumb")
    check("TERM=dumb: no progress", code == 0 and b"elapsed" not in seen, seen)

    for f in failures:
        print("FAIL", f)
    print(f"{len(cases)} commands under a terminal, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
