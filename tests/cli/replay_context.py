#!/usr/bin/env python3
"""`lockstep replay` of a binary fuzz input learns its target from where the input lies, never
from a guess: a corpus directory or a fuzz target's name in the path (e.g. a libFuzzer
-artifact_prefix), an AFL++ instance's fuzzer_stats; with no context it replays under both
targets. Each case asserts which protocols were replayed.

  replay_context.py LOCKSTEP_BINARY CORPUS_ROOT
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile


def replayed_protocols(binary, path, extra=()):
    p = subprocess.run([binary, "replay", path, *extra], capture_output=True, text=True,
                       timeout=60)
    return p.returncode, sorted(set(re.findall(r"^# .*\((mshv|vhost)\): \d+ ops", p.stdout, re.M))), p


def main():
    binary, corpus = os.path.abspath(sys.argv[1]), sys.argv[2]
    vhost_input = os.path.join(corpus, "vhost_postcopy", "mem_table.bin")
    failures, cases = [], []
    with tempfile.TemporaryDirectory(prefix="lockstep-replay-context-") as scratch:
        def place(relative):
            path = os.path.join(scratch, relative)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            shutil.copy(vhost_input, path)
            return path

        libfuzzer = place("findings/fuzz_vhost_postcopy-crash-0a1b2c")
        afl_dir = os.path.join(scratch, "afl-out", "main")
        afl = place("afl-out/main/crashes/id:000000,sig:06,src:000001,op:havoc,rep:4")
        with open(os.path.join(afl_dir, "fuzzer_stats"), "w") as f:
            f.write("start_time        : 1\ncommand_line      : afl-fuzz -i in -o afl-out -M main"
                    " -- build/afl/fuzz/fuzz_vhost_postcopy\n")
        bare = place("crash-0a1b2c")
        cases = [
            ("corpus directory", vhost_input, (), ["vhost"]),
            ("libFuzzer artifact prefix", libfuzzer, (), ["vhost"]),
            ("AFL++ fuzzer_stats", afl, (), ["vhost"]),
            ("no context", bare, (), ["mshv", "vhost"]),
            ("--protocol", bare, ("--protocol", "vhost"), ["vhost"]),
        ]
        for label, path, extra, expected in cases:
            code, got, p = replayed_protocols(binary, path, extra)
            if got != expected or code != 0:
                failures.append(f"{label}: replayed as {got} (exit {code}), expected {expected}\n"
                                f"{p.stdout[-400:]}{p.stderr}")
        # A proof counterexample under its negative variant: no real target implements it, so
        # only the model replays it (--target model), and the plain replay says how.
        counterexample = os.path.join(corpus, "proofs", "mshv",
                                      "device_type_valid__mutant-no-type-check.txt")
        code, got, p = replayed_protocols(binary, counterexample)
        if code != 2 or "--target model" not in p.stderr:
            failures.append(f"counterexample without --target model: exit {code}\n{p.stderr}")
        code, got, p = replayed_protocols(binary, counterexample, ("--target", "model"))
        if code != 0 or got != ["mshv"] or "mutant-no-type-check" not in p.stdout:
            failures.append(f"counterexample with --target model: exit {code}\n{p.stdout}")
        # A crash of the vhost target found with an impl mutant: the mutant names the protocol,
        # and the replay reproduces the target's divergence with its signature.
        env = dict(os.environ, LOCKSTEP_IMPL_MUTANT="end-keeps-uffd")
        crash = os.path.join(scratch, "crash-end")
        shutil.copy(os.path.join(corpus, "vhost_postcopy", "listen_end.bin"), crash)
        artifact = os.path.join(scratch, "findings", "fuzz_vhost_postcopy-crash-end")
        shutil.copy(crash, artifact)
        for label, path in (("bare", crash), ("libFuzzer", artifact)):
            p = subprocess.run([binary, "replay", path], capture_output=True, text=True,
                               timeout=60, env=env)
            if p.returncode != 1 or "lockstep: divergence vhost/POSTCOPY_END" not in p.stdout:
                failures.append(f"mutant crash ({label}): exit {p.returncode}\n{p.stdout[-600:]}"
                                f"{p.stderr}")
        if "under both" not in replayed_protocols(binary, bare)[2].stdout:
            failures.append("no context: the output does not say it replayed under both")
    for f in failures:
        print("FAIL", f)
    print(f"{len(failures)} failure(s) over {len(cases)} replay contexts")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
