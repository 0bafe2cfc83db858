#!/usr/bin/env python3
"""Checks that crash deduplication by stack agrees with the divergence signatures.

ClusterFuzz (OSS-Fuzz, ClusterFuzzLite) files one bug per crash state: the top three frames of
the symbolized stack, after dropping frames of the sanitizer and engine runtimes, libc and the
fuzz target entry point (its stack_analyzer ignore list). This script crashes the fuzz targets
of one or more build.sh outputs ($OUT of tools/cfl-check.sh) with deliberately broken
implementations (LOCKSTEP_IMPL_MUTANT) over their seed corpora, parses every report and
requires:
  - the report's first line is the signature ("lockstep: divergence <p>/<OP>/<field>" or
    "lockstep: fd-leak <p>");
  - at least four mutants crash, with at least four distinct signatures, and some signature is
    reached from two different inputs;
  - same signature <=> same top three frames, and those frames name the signature's field and
    op (fuzz/crash_states.def).

  tools/cfl_crash_states.py OUT_DIR [OUT_DIR...]
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

# The mutants of each target (fuzz/fuzz_mshv_device.cc, impl/vhost/backend.cc).
MUTANTS = {
    "fuzz_mshv_device": ["del-keeps-ref", "no-dup-check", "release-keeps-files"],
    "fuzz_vhost_postcopy": [
        "end-keeps-uffd", "advise-second-uffd", "advise-keeps-fds", "listen-without-advise",
        "no-ack-check", "disconnect-leaks-uffd"
    ],
}
CRASHES_PER_MUTANT = 3  # bounds the run time; enough for same-signature pairs
SYMBOLIZER = shutil.which("llvm-symbolizer") or "/usr/lib/llvm-14/bin/llvm-symbolizer"

SIGNATURE = re.compile(r"^lockstep: (?:divergence (\w+)/(\w+)/([\w.]+)|fd-leak (\w+))$")
FRAME = re.compile(r"^\s*#(\d+) 0x[0-9a-f]+(?: in (.+?))?(?: \S+:\d+(?::\d+)?| \(.*\))?$")
# The part of ClusterFuzz's stack frame ignore list that these stacks can contain.
IGNORED = re.compile(r"^(abort|raise|gsignal|__GI_|__libc_|__pthread_kill|pthread_kill|_start|"
                     r"__sanitizer|__asan|__ubsan|__interceptor_|fuzzer::|"
                     r"LLVMFuzzerTestOneInput|main$|.*libc\.so)")


def function_of(frame):
    """The function a frame names, as ClusterFuzz reduces it: no anonymous namespace, no
    arguments."""
    name = frame.replace("(anonymous namespace)::", "")
    return re.split(r"[(\[]", name, maxsplit=1)[0].strip() if name else ""


def crash_state(report):
    """The top three non-ignored frames of the first stack in `report`."""
    state = []
    for line in report.splitlines():
        match = FRAME.match(line)
        if not match:
            if state and not line.strip():
                break
            continue
        function = function_of(match.group(2) or "")
        if function and not IGNORED.match(function):
            state.append(function)
        if len(state) == 3:
            break
    return tuple(state)


def target_output(report):
    """What the target itself wrote: the report after the engine's "Running: FILE" (libFuzzer) or
    "Reading N bytes from FILE" (AFL++ driver) line."""
    lines = report.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Running: ") or re.match(r"^Reading \d+ bytes from ", line):
            return lines[i + 1:]
    return lines


class Crash:

    def __init__(self, binary, mutant, seed, report):
        self.where = f"{os.path.basename(binary)} {mutant} {os.path.basename(seed)}"
        self.seed = os.path.basename(binary) + "/" + os.path.basename(seed)
        own = target_output(report)
        self.first_line = own[0] if own else ""
        self.signature = self.first_line if SIGNATURE.match(self.first_line) else None
        self.state = crash_state(report)

    def expected_frames(self):
        """The frame names fuzz/crash_states.def gives this signature, innermost first."""
        proto, op, field, leak = SIGNATURE.match(self.signature).groups()
        if leak:
            return [f"{leak}_fd_leak"]
        return [f"{proto}_field_{field.replace('.', '_')}", f"{proto}_{op}"]


def run_seeds(binary, mutant, seeds):
    crashes = []
    env = dict(os.environ, LOCKSTEP_IMPL_MUTANT=mutant,
               ASAN_OPTIONS="symbolize=1:handle_abort=1:detect_leaks=0:"
               f"external_symbolizer_path={SYMBOLIZER}",
               UBSAN_OPTIONS="print_stacktrace=1:silence_unsigned_overflow=1:"
               f"external_symbolizer_path={SYMBOLIZER}")
    for seed in seeds:
        result = subprocess.run([binary, seed], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors="replace",
                                timeout=120, check=False)
        if result.returncode != 0:
            crashes.append(Crash(binary, mutant, seed, result.stdout))
            if len(crashes) == CRASHES_PER_MUTANT:
                break
    return crashes


def crashes_of(out_dir, scratch):
    crashes, mutants = [], set()
    for target, mutant_names in MUTANTS.items():
        binary = os.path.join(out_dir, target)
        seed_dir = os.path.join(scratch, os.path.basename(os.path.dirname(out_dir)), target)
        with zipfile.ZipFile(os.path.join(out_dir, target + "_seed_corpus.zip")) as archive:
            archive.extractall(seed_dir)
        seeds = sorted(os.path.join(seed_dir, name) for name in os.listdir(seed_dir))
        for mutant in mutant_names:
            found = run_seeds(binary, mutant, seeds)
            if found:
                mutants.add(f"{target}:{mutant}")
            crashes += found
    return crashes, mutants


def check(out_dir, scratch):
    """Returns the list of failures for one $OUT."""
    crashes, mutants = crashes_of(out_dir, scratch)
    failures = []
    for crash in crashes:
        if not crash.signature:
            failures.append(f"{crash.where}: first line is not a signature: {crash.first_line!r}")
        elif len(crash.state) < 2 or any(
                not frame.endswith(name)
                for frame, name in zip(crash.state, crash.expected_frames())):
            failures.append(f"{crash.where}: top frames {crash.state} do not name "
                            f"{crash.expected_frames()}")
    states = {}
    for crash in (c for c in crashes if c.signature):
        states.setdefault(crash.signature, set()).add(crash.state)
    for signature, found in states.items():
        if len(found) != 1:
            failures.append(f"{signature}: {len(found)} different crash states {sorted(found)}")
    owners = {}
    for signature, found in states.items():
        for state in found:
            if state in owners and owners[state] != signature:
                failures.append(f"{signature} and {owners[state]} share crash state {state}")
            owners[state] = signature
    seeds_per_signature = {}
    for crash in (c for c in crashes if c.signature):
        seeds_per_signature.setdefault(crash.signature, set()).add(crash.seed)
    if len(mutants) < 4:
        failures.append(f"only {len(mutants)} mutants crashed: {sorted(mutants)}")
    if len(states) < 4:
        failures.append(f"only {len(states)} distinct signatures: {sorted(states)}")
    if max((len(s) for s in seeds_per_signature.values()), default=0) < 2:
        failures.append("no signature was reached from two different inputs")
    print(f"{out_dir}: {len(crashes)} crashes from {len(mutants)} mutants, "
          f"{len(states)} signatures:")
    for signature in sorted(states):
        state = " <- ".join(next(iter(states[signature])))
        print(f"  {signature}  ({len(seeds_per_signature[signature])} inputs)\n    {state}")
    return failures


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    failures = []
    with tempfile.TemporaryDirectory() as scratch:
        for out_dir in argv[1:]:
            failures += [f"{out_dir}: {f}" for f in check(os.path.abspath(out_dir), scratch)]
    for failure in failures:
        print("FAIL:", failure, file=sys.stderr)
    print(f"cfl_crash_states: {len(argv) - 1} builds, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
