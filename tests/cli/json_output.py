#!/usr/bin/env python3
"""`--json` output validates against docs/lockstep-output.schema.json for every command that has
it, on success, on a finding and on an input error, and its exit_code is the process's. The
self-check proves the schema rejects broken documents (a test that can fail).

  json_output.py LOCKSTEP_BINARY PROJECT_ROOT
"""
import copy
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import jsonschema


def run(binary, args, cwd, env=None):
    p = subprocess.run([binary, *args], capture_output=True, text=True, timeout=120, cwd=cwd,
                       env=None if env is None else {**os.environ, **env})
    return p.returncode, p.stdout, p.stderr


def monitor_session(binary, scratch):
    import socket
    import struct
    be_path, fe_path = os.path.join(scratch, "mon-be.sock"), os.path.join(scratch, "mon-fe.sock")
    be = socket.socket(socket.AF_UNIX)
    be.bind(be_path)
    be.listen(1)
    p = subprocess.Popen([binary, "monitor", "--json", "--perturb", "5", "--listen", fe_path,
                          "--connect", be_path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    conn, _ = be.accept()
    ready = p.stderr.readline()  # "lockstep monitor: ready: ..." once it listens
    if "ready" not in ready:
        raise SystemExit("monitor did not start: " + ready)
    fe = socket.socket(socket.AF_UNIX)
    fe.connect(fe_path)
    fe.sendall(struct.pack("<III", 1, 1, 0))  # GET_FEATURES
    conn.recv(64)
    conn.close()
    out, _ = p.communicate(timeout=20)
    fe.close()
    be.close()
    return json.loads(out)


def main():
    binary, root = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    with open(os.path.join(root, "docs", "lockstep-output.schema.json")) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    corpus = os.path.join(root, "corpus")
    failures, documents = [], []
    with tempfile.TemporaryDirectory(prefix="lockstep-json-") as scratch:
        bad = os.path.join(scratch, "bad.txt")
        with open(bad, "w") as f:
            f.write("# lockstep mshv\np0 = open_partition(1)\n")
        stale = os.path.join(scratch, "stale")
        os.makedirs(os.path.join(stale, "programs", "mshv_device"))
        with open(os.path.join(stale, "programs", "mshv_device", "a.txt"), "w") as f:
            f.write("# lockstep mshv  profile=mshv-v1\np0 = open_partition()\n")
        bare = os.path.join(scratch, "crash-1")
        with open(bare, "wb") as f:
            f.write(bytes([1, 0, 0, 2, 0, 0, 0, 0]))
        bad_expectations = os.path.join(scratch, "bad-expectations.txt")
        with open(bad_expectations, "w") as f:
            f.write("expect dpdk-22.11: lockstep: divergence x\n  clas: deviation\n")
        peer = ["--json", "--seconds", "1", "--corpus", corpus, "--findings", "peer-findings"]
        dpdk = ["peer", "dpdk", *peer]
        dpdk_expectations = ["--expectations", os.path.join(root, "peers/dpdk/expectations.txt")]
        # kvm runs where /dev/kvm is usable (exit 0 or 1); elsewhere its document is an exit 3.
        kvm_runs = os.access("/dev/kvm", os.R_OK | os.W_OK)
        cases = [
            ("replay program", ["replay", "--json", os.path.join(
                corpus, "programs", "mshv_device", "add_duplicate_eexist.txt")], 0),
            ("replay vhost input", ["replay", "--json", os.path.join(
                corpus, "vhost_postcopy", "mem_table.bin")], 0),
            ("replay under both", ["replay", "--json", bare], 0),
            ("replay malformed", ["replay", "--json", bad], 2),
            ("run corpus", ["run", "mshv", "--json", "--seconds", "0", "--corpus", corpus], 0),
            ("run nothing", ["run", "vhost", "--json", "--seconds", "0", "--corpus", scratch], 2),
            ("corpus check", ["corpus", "check", "--json", "--root", corpus], 0),
            ("corpus stale", ["corpus", "check", "--json", "--root", stale], 1),
            ("corpus malformed", ["corpus", "--json", "check", "--root", scratch], 2),
            ("corpus min", ["corpus", "--json", "min", "--protocol", "vhost", "--model-only",
                            os.path.join(corpus, "vhost_postcopy")], 0),
            ("corpus min lost", ["corpus", "--json", "min", "--protocol", "vhost",
                                 "--model-only", "--test-drop-one",
                                 os.path.join(corpus, "vhost_postcopy")], 1),
            ("corpus min malformed", ["corpus", "--json", "min", "--protocol", "mshv",
                                      "--model-only", os.path.dirname(bad)], 2),
            ("corpus min no directory", ["corpus", "--json", "min", "--protocol", "mshv",
                                         os.path.join(scratch, "no-such-dir")], 2),
            ("corpus min no fuzz binary", ["corpus", "--json", "min", "--protocol", "mshv",
                                           "--fuzz-binary", os.path.join(scratch, "no-such"),
                                           os.path.join(corpus, "mshv_device")], 3),
            ("peer dpdk", [*dpdk, *dpdk_expectations], 0),
            ("peer dpdk cannot run", [*dpdk, *dpdk_expectations], 3,
             {"LOCKSTEP_DPDK_PEER": os.path.join(scratch, "no-such-peer")}),
            ("peer dpdk unknown profile", [*dpdk, *dpdk_expectations, "--profile", "nosuch"], 2),
            ("peer dpdk malformed expectations", [*dpdk, "--expectations", bad_expectations], 2),
            ("monitor cannot connect", ["monitor", "--json", "--listen", "fe.sock", "--connect",
                                        os.path.join(scratch, "no-such.sock")], 3),
            ("monitor unknown profile", ["monitor", "--json", "--listen", "fe.sock", "--connect",
                                         "be.sock", "--profile", "nosuch"], 2),
            ("peer kvm", ["peer", "kvm", *peer, "--expectations",
                          os.path.join(root, "peers/kvm/expectations.txt")],
             (0, 1) if kvm_runs else 3),
        ]
        for label, args, expected, *env in cases:
            code, out, err = run(binary, args, scratch, *env)
            try:
                doc = json.loads(out)
            except json.JSONDecodeError as e:
                failures.append(f"{label}: stdout is not one JSON document ({e}):\n{out}{err}")
                continue
            errors = [e.message for e in validator.iter_errors(doc)]
            if errors:
                failures.append(f"{label}: invalid: {errors}")
            if code not in (expected if isinstance(expected, tuple) else (expected,)) or \
                    doc.get("exit_code") != code:
                failures.append(f"{label}: exit {code} (document says {doc.get('exit_code')}), "
                                f"expected {expected}\n{err}")
            documents.append(doc)
        # A monitored session: a back-end that accepts and closes at once (the model keeps the
        # connection open, so the document has a violation), one GET_FEATURES from a front-end.
        doc = monitor_session(binary, scratch)
        errors = [e.message for e in validator.iter_errors(doc)]
        if errors or doc.get("exit_code") != 1 or not doc.get("messages"):
            failures.append(f"monitor session: {errors} {json.dumps(doc)[:600]}")
        documents.append(doc)
        # Ctrl-C: the run stops at a trace boundary and still writes its summary document.
        p = subprocess.Popen([binary, "run", "mshv", "--json", "--seconds", "60"], cwd=scratch,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(2)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=20)
        doc = json.loads(out) if out.strip() else {}
        if p.returncode != 0 or not doc.get("interrupted") or not validator.is_valid(doc) or \
                doc["phases"][1]["seconds"] > 10:
            failures.append(f"Ctrl-C: exit {p.returncode}, document {out[:300]}\n{err}")
    # The schema must be able to fail: each mutation of a valid document is rejected.
    replay = next(d for d in documents if d["command"] == "replay" and d["exit_code"] == 0)
    mutations = {
        "no schema_version": lambda d: d.pop("schema_version"),
        "unknown exit code": lambda d: d.update(exit_code=7),
        "error on success": lambda d: d.update(error="x"),
        "diverged without divergence": lambda d: d["replays"][0].update(verdict="diverged"),
        "ops as text": lambda d: d["replays"][0].update(ops="3"),
    }
    peer_doc = next(d for d in documents if d["command"] == "peer" and d["exit_code"] == 0)
    peer_mutations = {
        "peer without counts": lambda d: d.pop("counts"),
        "peer finding of an unknown class": lambda d: d["findings"].append(
            {"signature": "spec: lockstep: divergence x", "class": "odd", "why": "", "file": "f",
             "line": 2, "origin": "o", "hits": 1}),
        "peer error document with counts": lambda d: d.update(exit_code=3, error="x"),
    }
    for label, mutate in peer_mutations.items():
        doc = copy.deepcopy(peer_doc)
        mutate(doc)
        if validator.is_valid(doc):
            failures.append(f"schema self-check: accepted a document with {label}")
    for label, mutate in mutations.items():
        doc = copy.deepcopy(replay)
        mutate(doc)
        if validator.is_valid(doc):
            failures.append(f"schema self-check: accepted a document with {label}")
    for f in failures:
        print("FAIL", f)
    print(f"{len(cases)} commands, {len(mutations) + len(peer_mutations)} schema self-checks, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
