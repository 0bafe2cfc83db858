#!/usr/bin/env python3
"""`lockstep summary` (the one screen of README command 1) from real --json documents: each
verdict fires on a document that deserves it (a divergence, an unexpected proof result, a peer
disagreement the expectations file does not list: exit 1), a peer that cannot run here is reported
without failing the job, an unreadable document is exit 2 with FILE:LINE:COL, and documents that
all agree give exit 0. The proof matrix marks expected failures of negative variants "✗exp".

  summary_output.py LOCKSTEP_BINARY PROJECT_ROOT
"""
import os
import subprocess
import sys
import tempfile


def run(binary, args, cwd, env=None):
    p = subprocess.run([binary, *args], capture_output=True, text=True, timeout=300, cwd=cwd,
                       env=env)
    return p.returncode, p.stdout, p.stderr


def main():
    binary, root = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    corpus = os.path.join(root, "corpus")
    failures = []

    def check(label, condition, detail=""):
        if not condition:
            failures.append(f"{label}\n{detail}")

    with tempfile.TemporaryDirectory(prefix="lockstep-summary-") as d:
        def doc(name, args, env=None, cwd=d):
            code, out, err = run(binary, [*args, "--json"], cwd, env)
            path = os.path.join(d, name + ".json")
            with open(path, "w") as f:
                f.write(out)
            return path, code, err

        def summary(*files):
            return run(binary, ["summary", *files], d)

        empty_corpus = os.path.join(d, "empty-corpus")
        os.makedirs(os.path.join(empty_corpus, "programs", "mshv_device"))
        run_ok, code, err = doc("run-ok", ["run", "mshv", "--seconds", "0", "--corpus", corpus])
        check("run on the shipped corpus agrees", code == 0, err)
        run_bad, code, err = doc("run-bad", ["run", "mshv", "--seconds", "0", "--corpus", corpus,
                                             "--impl-mutant", "no-dup-check"])
        check("run of an impl mutant diverges", code == 1, err)
        prove_ok, code, err = doc("prove-ok", ["prove", "--protocol", "mshv"])
        check("the mshv proofs pass", code == 0, err)
        # No corpus programs: the vacuity sample is empty, so every row is vacuous, which the
        # mshv binding does not accept on a shipped profile.
        prove_bad, code, err = doc("prove-bad", ["prove", "--protocol", "mshv", "--profile",
                                                 "mshv-v1", "--corpus", empty_corpus])
        check("proofs without a vacuity sample fail", code == 1, err)
        env = dict(os.environ, LOCKSTEP_DPDK_PEER=os.path.join(d, "no-such-peer"))
        peer_absent, code, err = doc("peer-absent", ["peer", "dpdk", "--seconds", "0"], env, root)
        check("a peer binary that is not there cannot run here", code == 3, err)

        # Everything agrees; the absent peer is reported, not counted.
        code, out, err = summary(run_ok, prove_ok, peer_absent)
        check("all good: exit 0", code == 0, out + err)
        check("all good: verdict line", "verdict: exit 0: everything checked agreed" in out, out)
        check("the campaign row", any(l.split()[:1] == ["mshv"] and "exec/s" not in l
                                      for l in out.splitlines()), out)
        check("the matrix marks expected failures", "✗exp" in out and "unexpected: none" in out,
              out)
        check("a peer that cannot run here says why",
              "cannot run here: the DPDK peer cannot run here: dpdk_vhost_peer not executable"
              in out, out)

        # Each finding fires on its own.
        code, out, err = summary(run_bad, prove_ok)
        check("a divergence: exit 1", code == 1 and "verdict: exit 1: findings: run mshv" in out,
              out + err)
        code, out, err = summary(run_ok, prove_bad)
        check("an unexpected proof result: exit 1", code == 1 and "proofs mshv" in out, out + err)
        check("the unexpected result is called out below the matrix",
              "V mshv well_formed on mshv-v1: vacuous" in out, out)

        # A real peer disagreement its expectations file does not list (where DPDK runs).
        exp = os.path.join(d, "no-expectations.txt")
        with open(exp, "w") as f:  # an empty file is refused: it says so
            f.write("# no known disagreements\n")
        peer_bad, code, err = doc("peer-bad", ["peer", "dpdk", "--seconds", "0", "--expectations",
                                               exp, "--findings", os.path.join(d, "f")],
                                  cwd=root)
        if code == 3:
            print("SKIP peer finding: the DPDK peer cannot run here:", err.strip())
        else:
            check("a peer with an empty expectations file has findings", code == 1, err)
            code, out, err = summary(run_ok, peer_bad)
            check("a peer finding: exit 1", code == 1 and "peer dpdk" in out, out + err)
            check("the unexplained disagreement is listed",
                  "unexpected: dpdk: not in " + exp in out, out)

        # Unreadable input: exit 2 and where.
        broken = os.path.join(d, "broken.json")
        with open(broken, "w") as f:
            f.write('{"command": "run",\n  "protocol": }\n')
        code, out, err = summary(run_ok, broken)
        check("malformed JSON: exit 2 at FILE:LINE:COL", code == 2 and broken + ":2:" in out,
              out + err)
        blank = os.path.join(d, "blank.json")
        open(blank, "w").close()
        code, out, err = summary(blank)
        check("an empty document: exit 2", code == 2 and "wrote no document" in out, out + err)
        code, out, err = summary(os.path.join(d, "missing.json"))
        check("a missing document: exit 2", code == 2 and "cannot be read" in out, out + err)
        other = os.path.join(d, "other.json")
        with open(other, "w") as f:
            f.write('{"command": "replay", "exit_code": 0}\n')
        code, out, err = summary(other)
        check("a document of another command: exit 2", code == 2, out + err)
        shapeless = os.path.join(d, "shapeless.json")
        with open(shapeless, "w") as f:
            f.write('{"command": "run", "exit_code": 0, "protocol": "mshv"}\n')
        code, out, err = summary(shapeless)
        check("a run document without phases: exit 2", code == 2, out + err)

    for f in failures:
        print("FAIL", f)
    print(f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
