#!/usr/bin/env python3
"""`--sarif FILE` writes a log that validates against the official SARIF 2.1.0 schema
(tools/install-deps.sh installs it) for replay, run, peer dpdk and prove, on findings and on
clean runs; every result points at an existing file and the line of the offending op there;
the command exits 1 exactly when the log holds a result that is not suppressed; Ctrl-C still
writes the log. The self-check proves the validator rejects broken logs (a test that can fail).

  sarif_output.py LOCKSTEP_BINARY PROJECT_ROOT [SCHEMA]
"""
import copy
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

import jsonschema

SCHEMA = "/usr/local/share/lockstep/sarif-2.1.0-rtm.5.json"


def op_lines(path):
    """The 1-based line numbers of a program's ops: after the header, neither blank nor '#'."""
    with open(path) as f:
        lines = f.read().split("\n")
    header = next(i for i, text in enumerate(lines) if text.startswith("# lockstep "))
    return [i + 1 for i, text in enumerate(lines)
            if i > header and text.strip() and not text.lstrip().startswith("#")
            and not text.startswith("lockstep: ")], lines


def resolve(log, result):
    """The file a result's first location names, as a local path."""
    location = result["locations"][0]["physicalLocation"]
    artifact = location["artifactLocation"]
    uri = artifact["uri"]
    if "uriBaseId" in artifact:
        uri = log["runs"][0]["originalUriBaseIds"][artifact["uriBaseId"]]["uri"] + uri
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme != "file":
        raise ValueError(f"not a file URI: {uri}")
    return urllib.parse.unquote(parsed.path), location.get("region", {}).get("startLine", 0)


def check_location(log, result, expected_line=None):
    """'' when the result names an existing file and, at its line, the offending op."""
    try:
        path, line = resolve(log, result)
    except (KeyError, ValueError) as e:
        return f"unresolvable location ({e})"
    if not os.path.isfile(path):
        return f"location {path} does not exist"
    rule = result["ruleId"]
    with open(path) as f:
        lines = f.read().split("\n")
    if not 1 <= line <= len(lines):
        return f"{path}: line {line} is not in the file"
    text = lines[line - 1]
    if rule.startswith("proof-") and path.endswith(".cc"):
        inv = result["message"]["text"].split("/")[1]
        return "" if f"Invariant {inv}()" in text else f"{path}:{line} is not {inv}'s definition"
    ops, _ = op_lines(path)
    if line not in ops:
        return f"{path}:{line} is not an op line: {text!r}"
    if expected_line is not None:
        return "" if line == expected_line else \
            f"{path}:{line}, expected the offending op at line {expected_line}"
    # An fd leak, and a proof's counterexample, are pinned on the last op; a divergence in a
    # side-by-side finding file on the op marked as the first divergence.
    if "lockstep: fd-leak" in result["message"]["text"] or rule.startswith("proof-"):
        return "" if line == ops[-1] else f"{path}:{line}: expected the last op, line {ops[-1]}"
    if "<== first divergence" not in text:
        return f"{path}:{line} is not the diverging op: {text!r}"
    return ""


def main():
    binary, root = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    schema_path = sys.argv[3] if len(sys.argv) > 3 else SCHEMA
    if not os.path.isfile(schema_path):
        print(f"FAIL the SARIF 2.1.0 schema is missing at {schema_path}: run tools/install-deps.sh")
        return 1
    with open(schema_path) as f:
        schema = json.load(f)
    jsonschema.Draft4Validator.check_schema(schema)
    validator = jsonschema.Draft4Validator(schema)
    corpus = os.path.join(root, "corpus")
    programs = os.path.join(corpus, "programs")
    failures, logs = [], []
    with tempfile.TemporaryDirectory(prefix="lockstep-sarif-") as scratch:
        empty_dir = os.path.join(scratch, "empty-corpus")
        os.makedirs(os.path.join(empty_dir, "programs", "mshv_device"))
        no_expectations = os.path.join(scratch, "no-expectations.txt")
        with open(no_expectations, "w") as f:  # an empty file is refused: it says so
            f.write("# no known disagreements\n")
        dup = os.path.join(programs, "mshv_device", "add_duplicate_eexist.txt")
        # The same program with a wrong annotation on the op at line 7 (EEXIST -> = 0).
        misannotated = os.path.join(scratch, "misannotated.txt")
        with open(dup) as f:
            lines = f.read().split("\n")
        lines[6] = lines[6].replace("# EEXIST", "# = 0")
        with open(misannotated, "w") as f:
            f.write("\n".join(lines))
        cases = [
            # label, args, exit code, rules the log must hold (unsuppressed unless marked)
            ("replay diverging", ["replay", dup, "--impl-mutant", "no-dup-check"], 1,
             {"divergence"}),
            ("replay agreeing", ["replay", dup], 0, set()),
            ("replay misannotated", ["replay", misannotated], 1, {"annotation-mismatch"}),
            ("run diverging", ["run", "mshv", "--seconds", "0", "--corpus", corpus,
                               "--impl-mutant", "no-dup-check", "--findings", "f1"], 1,
             {"divergence"}),
            ("run fd leak", ["run", "mshv", "--seconds", "0", "--corpus", corpus,
                             "--impl-mutant", "release-keeps-files", "--findings", "f2"], 1,
             {"fd-leak"}),
            ("peer dpdk", ["peer", "dpdk", "--seconds", "1", "--corpus", corpus,
                           "--expectations", os.path.join(root, "peers/dpdk/expectations.txt"),
                           "--findings", "f3"], 0, {"peer-disagreement (suppressed)"}),
            ("peer dpdk unexplained", ["peer", "dpdk", "--seconds", "1", "--corpus", corpus,
                                       "--expectations", no_expectations, "--findings", "f4"], 1,
             {"peer-disagreement"}),
            ("prove negative variant", ["prove", "--protocol", "mshv", "--profile",
                                        "mutant-no-dup-check", "--corpus", corpus,
                                        "--emit-corpus", "cex"], 0,
             {"proof-fails (suppressed)"}),
            ("prove vacuous", ["prove", "--protocol", "mshv", "--profile", "mshv-v1",
                               "--corpus", empty_dir], 1, {"proof-vacuous"}),
        ]
        for n, (label, args, expected, rules) in enumerate(cases):
            sarif = os.path.join(scratch, f"{n}.sarif")
            p = subprocess.run([binary, *args, "--sarif", sarif], capture_output=True, text=True,
                               timeout=300, cwd=scratch)
            if p.returncode != expected:
                failures.append(f"{label}: exit {p.returncode}, expected {expected}\n{p.stderr}")
            if not os.path.isfile(sarif):
                failures.append(f"{label}: no log written\n{p.stderr}")
                continue
            with open(sarif) as f:
                log = json.load(f)
            logs.append(log)
            errors = [e.message for e in validator.iter_errors(log)]
            if errors:
                failures.append(f"{label}: invalid SARIF: {errors[:3]}")
            results = log["runs"][0]["results"]
            seen = {r["ruleId"] + (" (suppressed)" if r.get("suppressions") else "")
                    for r in results}
            if not rules <= seen or (not rules and results):
                failures.append(f"{label}: results {sorted(seen)}, expected {sorted(rules)}")
            if any(not r.get("suppressions") for r in results) != (expected == 1):
                failures.append(f"{label}: exit {p.returncode} but unsuppressed results "
                                f"{[r['ruleId'] for r in results if not r.get('suppressions')]}")
            for r in results:
                expected_line = None
                if label == "replay diverging":  # the op the --json verdict names, in the file
                    j = subprocess.run([binary, *args, "--json"], capture_output=True, text=True,
                                       timeout=60, cwd=scratch)
                    index = json.loads(j.stdout)["replays"][0]["divergence"]["index"]
                    expected_line = op_lines(dup)[0][index]
                if label == "replay misannotated":
                    expected_line = 7
                problem = check_location(log, r, expected_line)
                if problem:
                    failures.append(f"{label}: {r['ruleId']}: {problem}")
        # The location check must be able to fail: one line off is caught.
        for log in logs:
            for r in copy.deepcopy(log)["runs"][0]["results"]:
                if r["locations"][0]["physicalLocation"].get("region"):
                    r["locations"][0]["physicalLocation"]["region"]["startLine"] += 1
                    if not check_location(log, r):
                        failures.append(f"location self-check: accepted {r['ruleId']} one "
                                        "line off")
        failures += interrupted(binary, root, scratch, validator)
    failures += self_check(validator, logs)
    for f in failures:
        print("FAIL", f)
    print(f"{len(cases)} commands, Ctrl-C, schema self-checks: {len(failures)} failures")
    return 1 if failures else 0


def interrupted(binary, root, scratch, validator):
    """Ctrl-C: run and peer stop at a trace boundary and still write the log with what they
    found so far."""
    failures = []
    for label, args in [("run", ["run", "mshv", "--seconds", "60", "--impl-mutant",
                                 "no-dup-check", "--findings", "f5"]),
                        ("peer dpdk", ["peer", "dpdk", "--seconds", "60", "--findings", "f6",
                                       "--corpus", os.path.join(root, "corpus"), "--json",
                                       "--expectations",
                                       os.path.join(root, "peers/dpdk/expectations.txt")])]:
        sarif = os.path.join(scratch, f"ctrl-c-{label.replace(' ', '-')}.sarif")
        p = subprocess.Popen([binary, *args, "--sarif", sarif], cwd=scratch,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(3)
        p.send_signal(signal.SIGINT)
        try:
            out, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            failures.append(f"Ctrl-C {label}: still running 30 s after SIGINT")
            continue
        if p.returncode not in (0, 1) or not os.path.isfile(sarif):
            failures.append(f"Ctrl-C {label}: exit {p.returncode}, log written: "
                            f"{os.path.isfile(sarif)}\n{err}")
            continue
        with open(sarif) as f:
            log = json.load(f)
        if not validator.is_valid(log) or not log["runs"][0]["results"]:
            failures.append(f"Ctrl-C {label}: the log is invalid or holds no finding so far")
        if "--json" in args and not json.loads(out).get("interrupted"):
            failures.append(f"Ctrl-C {label}: the JSON document does not say interrupted")
    return failures


def self_check(validator, logs):
    """The validator must be able to fail: each mutation of a valid log is rejected."""
    log = next((l for l in logs if l["runs"][0]["results"]), None)
    if log is None:
        return ["schema self-check: no log with a result to mutate"]
    mutations = {
        "no version": lambda d: d.pop("version"),
        "version 2.0.0": lambda d: d.update(version="2.0.0"),
        "no tool": lambda d: d["runs"][0].pop("tool"),
        "level fatal": lambda d: d["runs"][0]["results"][0].update(level="fatal"),
        "line 0": lambda d: d["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
        .update(region={"startLine": 0}),
        "message without text": lambda d: d["runs"][0]["results"][0].update(message={}),
    }
    failures = []
    for label, mutate in mutations.items():
        doc = copy.deepcopy(log)
        mutate(doc)
        if validator.is_valid(doc):
            failures.append(f"schema self-check: accepted a log with {label}")
    return failures


if __name__ == "__main__":
    sys.exit(main())
