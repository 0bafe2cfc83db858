#!/usr/bin/env python3
"""`lockstep corpus min` on a grown corpus, per protocol: the shipped programs and fuzz inputs,
each program again with a no-op change (a comment line), each fuzz input again under another
name, and seeded random byte strings. The minimised set must be smaller and keep every model
transition, which a second, independent run over the written set confirms; a broken selection
(--test-drop-one) must be caught (exit 1, nothing written); malformed inputs are reported with
FILE:LINE:COL, counted and not kept (exit 2); --merge adds programs with twins that `corpus
check` accepts and never overwrites (a second merge adds nothing).

  corpus_min.py LOCKSTEP_BINARY PROJECT_ROOT            model-transition coverage
  corpus_min.py LOCKSTEP_BINARY PROJECT_ROOT --edges    with the fuzz binaries of build/fuzz
                                                        (exit 77, skipped, when they are absent)
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

TARGET = {"mshv": "mshv_device", "vhost": "vhost_postcopy"}
SKIP = 77


def run(binary, *args):
    p = subprocess.run([binary, *args], capture_output=True, text=True, timeout=600,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def minimise(binary, protocol, dirs, *extra):
    code, out, err = run(binary, "corpus", "--json", "min", "--protocol", protocol, *extra, *dirs)
    try:
        return code, json.loads(out), err
    except json.JSONDecodeError:
        raise SystemExit(f"corpus min {protocol}: no JSON document (exit {code}):\n{out}\n{err}")


def grow(root, protocol, grown):
    """The shipped corpus of `protocol`, each input twice, and random byte strings."""
    os.makedirs(grown)
    programs = os.path.join(root, "corpus/programs", TARGET[protocol])
    inputs = os.path.join(root, "corpus", TARGET[protocol])
    for name in sorted(os.listdir(programs)):
        text = open(os.path.join(programs, name)).read()
        open(os.path.join(grown, name), "w").write(text)
        open(os.path.join(grown, "noop_" + name), "w").write(text + "# a no-op change\n")
    for name in sorted(os.listdir(inputs)):
        shutil.copy(os.path.join(inputs, name), os.path.join(grown, name))
        shutil.copy(os.path.join(inputs, name), os.path.join(grown, "copy_" + name))
    rng = random.Random(13)
    for i in range(16):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
        open(os.path.join(grown, f"random_{i:02}"), "wb").write(data)
    return len(os.listdir(grown))


def fuzz_inputs(root, protocol):
    return len(os.listdir(os.path.join(root, "corpus", TARGET[protocol])))


def check(problems, ok, what):
    if not ok:
        problems.append(what)


def minimised_keeps_coverage(binary, root, protocol, grown, count, scratch, problems, extra):
    """The grown corpus shrinks, keeps its transitions, and the written set shows it again."""
    out = os.path.join(scratch, "out")
    code, doc, err = minimise(binary, protocol, [grown], "--out", out, *extra)
    model = doc["coverage"]["model_transitions"]
    check(problems, code == 0, f"{protocol}: exit {code}, expected 0:\n{err}")
    read = doc["inputs"]["before"] + doc["inputs"]["duplicates"]
    check(problems, read == count, f"{protocol}: {read} inputs read, {count} in the directory")
    check(problems, doc["inputs"]["duplicates"] == fuzz_inputs(root, protocol),
          f"{protocol}: {doc['inputs']['duplicates']} duplicates: one per copied fuzz input")
    check(problems, doc["inputs"]["after"] < doc["inputs"]["before"],
          f"{protocol}: nothing removed ({doc['inputs']})")
    check(problems, model["after"] == model["before"] > 0, f"{protocol}: transitions {model}")
    check(problems, len(os.listdir(out)) == doc["inputs"]["after"],
          f"{protocol}: {len(os.listdir(out))} files written for {doc['inputs']['after']} kept")
    again_code, again, err = minimise(binary, protocol, [out], *extra)
    check(problems, again_code == 0, f"{protocol}: the written set: exit {again_code}:\n{err}")
    check(problems, again["coverage"]["model_transitions"]["transitions"] == model["transitions"],
          f"{protocol}: the written set covers other transitions than the grown corpus")
    if doc["coverage"]["edge_features"] is not None:
        edges = doc["coverage"]["edge_features"]
        check(problems, edges["after"] == edges["before"] > 0, f"{protocol}: edges {edges}")
    return doc


def broken_selection_caught(binary, protocol, grown, scratch, problems, extra):
    out = os.path.join(scratch, "dropped")
    code, doc, err = minimise(binary, protocol, [grown], "--out", out, "--test-drop-one", *extra)
    check(problems, code == 1 and doc["lost"] and "lost: " in err,
          f"{protocol}: a selection missing one input: exit {code}, lost {doc['lost']}:\n{err}")
    check(problems, not os.listdir(out), f"{protocol}: a selection that lost coverage was written")


def malformed_reported(binary, protocol, grown, scratch, problems):
    bad = os.path.join(scratch, "bad")
    os.makedirs(bad)
    broken = os.path.join(bad, "broken.txt")
    open(broken, "w").write(f"# lockstep {protocol}\nno_such_call()\n")
    empty = os.path.join(bad, "empty")
    open(empty, "wb").close()
    code, doc, err = minimise(binary, protocol, [grown, bad], "--model-only")
    check(problems, code == 2, f"{protocol}: malformed inputs: exit {code}, expected 2")
    check(problems, len(doc["malformed"]) == 2, f"{protocol}: malformed {doc['malformed']}")
    check(problems, f"lockstep corpus min: {broken}:2:1: " in err, f"{protocol}: no FILE:LINE:COL "
          f"for the broken program:\n{err}")
    check(problems, f"lockstep corpus min: {empty}: " in err, f"{protocol}: the empty file:\n{err}")
    check(problems, doc["inputs"]["after"] > 0, f"{protocol}: the valid inputs were not minimised")


def merge_never_overwrites(binary, root, protocol, grown, scratch, problems):
    corpus = os.path.join(scratch, "corpus")
    for sub in ("programs/" + TARGET[protocol], TARGET[protocol]):
        shutil.copytree(os.path.join(root, "corpus", sub), os.path.join(corpus, sub))
    before = set(os.listdir(os.path.join(corpus, "programs", TARGET[protocol])))
    code, doc, err = minimise(binary, protocol, [grown], "--model-only", "--merge", "--root",
                              corpus)
    added = set(os.listdir(os.path.join(corpus, "programs", TARGET[protocol]))) - before
    check(problems, code == 0 and doc["merged"] == len(added) > 0,
          f"{protocol}: --merge: exit {code}, merged {doc.get('merged')}, files {sorted(added)}")
    check(problems, all(a.startswith("min_") for a in added), f"{protocol}: names {added}")
    code, _, err = run(binary, "corpus", "check", "--root", corpus)
    check(problems, code == 0, f"{protocol}: corpus check after --merge: exit {code}:\n{err}")
    code, doc, err = minimise(binary, protocol, [grown], "--model-only", "--merge", "--root",
                              corpus)
    check(problems, code == 0 and doc["merged"] == 0, f"{protocol}: a second --merge added "
          f"{doc.get('merged')}")


def main():
    binary, root = sys.argv[1], sys.argv[2]
    edges = "--edges" in sys.argv[3:]
    problems = []
    for protocol in TARGET:
        fuzz = os.path.join(root, "build/fuzz/fuzz", "fuzz_" + TARGET[protocol])
        if edges and not os.access(fuzz, os.X_OK):
            print(f"skipped: {fuzz} is not built (cmake --preset fuzz, then build it)")
            return SKIP
        extra = ["--fuzz-binary", fuzz] if edges else ["--model-only"]
        with tempfile.TemporaryDirectory() as scratch:
            grown = os.path.join(scratch, "grown")
            count = grow(root, protocol, grown)
            doc = minimised_keeps_coverage(binary, root, protocol, grown, count, scratch,
                                           problems, extra)
            broken_selection_caught(binary, protocol, grown, scratch, problems, extra)
            if not edges:
                malformed_reported(binary, protocol, grown, scratch, problems)
                merge_never_overwrites(binary, root, protocol, grown, scratch, problems)
            model = doc["coverage"]["model_transitions"]
            edge = doc["coverage"]["edge_features"]
            print(f"{protocol}: {doc['inputs']['before']} -> {doc['inputs']['after']} inputs, "
                  f"{model['before']} -> {model['after']} model transitions" +
                  (f", {edge['before']} -> {edge['after']} edge features" if edge else ""))
    for p in problems:
        print("FAIL: " + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
