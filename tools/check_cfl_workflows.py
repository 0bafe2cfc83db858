#!/usr/bin/env python3
"""Checks the ClusterFuzzLite workflows (.github/workflows/cflite_*.yml) against
.clusterfuzzlite/project.yaml and ClusterFuzzLite's action inputs:

  - every step uses google/clusterfuzzlite/actions/build_fuzzers@v1 or run_fuzzers@v1, builds
    for project.yaml's language, and each run step follows a build step of the same sanitizer;
  - code-change fuzzing runs on pull requests and batch fuzzing on a schedule, each for every
    sanitizer project.yaml lists; pruning (address) and coverage (the coverage build) run on a
    schedule; a continuous build of main uploads a build per sanitizer;
  - every run step passes github-token and a positive fuzz-seconds.

  tools/check_cfl_workflows.py [--root DIR]     check the repository
  tools/check_cfl_workflows.py --self-test      broken copies of the workflows must fail
"""
import argparse
import copy
import glob
import os
import re
import sys

import yaml

BUILD = "google/clusterfuzzlite/actions/build_fuzzers@v1"
RUN = "google/clusterfuzzlite/actions/run_fuzzers@v1"
MODES = {"code-change", "batch", "prune", "coverage"}


def triggers(workflow):
    # YAML 1.1 reads the key `on` as the boolean True.
    on = workflow.get("on", workflow.get(True, {}))
    return set([on] if isinstance(on, str) else on)


def expand(value, matrix):
    """A `${{ matrix.X }}` value as the list of values the matrix gives it."""
    match = re.fullmatch(r"\$\{\{\s*matrix\.(\w+)\s*\}\}", str(value))
    if not match:
        return [str(value)]
    return [str(v) for v in matrix.get(match.group(1), [])]


def check_job(where, job, language, seen, failures):
    """Checks one job's steps; records (mode or 'upload', sanitizer) pairs in `seen`."""
    matrix = job.get("strategy", {}).get("matrix", {})
    built = None
    for step in job.get("steps", []):
        uses, inputs = step.get("uses"), step.get("with", {})
        if uses not in (BUILD, RUN):
            failures.append(f"{where}: step {step.get('name')!r} uses {uses!r}")
            continue
        sanitizer = inputs.get("sanitizer", "address")
        if uses == BUILD:
            built = sanitizer
            if inputs.get("language") != language:
                failures.append(f"{where}: builds language {inputs.get('language')!r}, "
                                f"project.yaml says {language!r}")
            if inputs.get("upload-build") is True:
                seen.update(("upload", s) for s in expand(sanitizer, matrix))
            continue
        mode = inputs.get("mode", "code-change")
        if mode not in MODES:
            failures.append(f"{where}: unknown mode {mode!r}")
        if built != sanitizer:
            failures.append(f"{where}: runs {sanitizer!r} after building {built!r}")
        if not inputs.get("github-token") or int(inputs.get("fuzz-seconds", 0)) <= 0:
            failures.append(f"{where}: run step needs github-token and fuzz-seconds > 0")
        seen.update((mode, s) for s in expand(sanitizer, matrix))


def check(workflows, project):
    """Failures of `workflows` ({file: parsed yaml}) against `project` (parsed project.yaml)."""
    failures = []
    sanitizers = set(project.get("sanitizers", []))
    if not sanitizers:
        failures.append("project.yaml lists no sanitizers")
    wanted = {
        "code-change": ("pull_request", sanitizers),
        "batch": ("schedule", sanitizers),
        "prune": ("schedule", {"address"}),
        "coverage": ("schedule", {"coverage"}),
        "upload": ("push", sanitizers),
    }
    found = {key: set() for key in wanted}
    for name, workflow in sorted(workflows.items()):
        events = triggers(workflow)
        for job_name, job in workflow.get("jobs", {}).items():
            seen = set()
            check_job(f"{name}:{job_name}", job, project.get("language"), seen, failures)
            for key, sanitizer in seen:
                if wanted[key][0] in events:
                    found[key].add(sanitizer)
    for key, (event, expected) in wanted.items():
        if found[key] != expected:
            failures.append(f"{key} on {event}: sanitizers {sorted(found[key])}, "
                            f"expected {sorted(expected)}")
    return failures


def load(root):
    with open(os.path.join(root, ".clusterfuzzlite", "project.yaml")) as f:
        project = yaml.safe_load(f)
    workflows = {}
    for path in glob.glob(os.path.join(root, ".github", "workflows", "cflite_*.yml")):
        with open(path) as f:
            workflows[os.path.basename(path)] = yaml.safe_load(f)
    return workflows, project


def self_test(root):
    """Each breakage of the real files must be reported."""
    workflows, project = load(root)
    if check(workflows, project):
        print("self-test: the repository's workflows fail already", file=sys.stderr)
        return 1

    def pr_matrix(w):
        w["cflite_pr.yml"]["jobs"]["PR"]["strategy"]["matrix"]["sanitizer"].remove("undefined")

    def batch_mode(w):
        w["cflite_batch.yml"]["jobs"]["BatchFuzzing"]["steps"][1]["with"]["mode"] = "code-change"

    def no_coverage(w):
        del w["cflite_cron.yml"]["jobs"]["Coverage"]

    def prune_mismatch(w):
        w["cflite_cron.yml"]["jobs"]["Pruning"]["steps"][0]["with"]["sanitizer"] = "undefined"

    def wrong_action(w):
        w["cflite_pr.yml"]["jobs"]["PR"]["steps"][0]["uses"] = "google/oss-fuzz/build@master"

    breakages = [pr_matrix, batch_mode, no_coverage, prune_mismatch, wrong_action]
    for breakage in breakages:
        broken = copy.deepcopy(workflows)
        breakage(broken)
        if not check(broken, project):
            print(f"self-test: {breakage.__name__} went unnoticed", file=sys.stderr)
            return 1
    print(f"self-test: {len(breakages)} breakages reported")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.path.join(os.path.dirname(__file__), ".."))
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    if args.self_test:
        return self_test(args.root)
    workflows, project = load(args.root)
    failures = check(workflows, project)
    for failure in failures:
        print("FAIL:", failure, file=sys.stderr)
    print(f"check_cfl_workflows: {len(workflows)} workflows, {len(failures)} failures")
    return 1 if failures or not workflows else 0


if __name__ == "__main__":
    sys.exit(main())
