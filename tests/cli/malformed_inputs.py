#!/usr/bin/env python3
"""Every `lockstep` command that reads files, fed malformed input: each case must end with the
exact documented exit code (README "Exit codes") and a message naming the file and, for text,
the position (FILE:LINE:COL), within a time bound (a hang is a failure). Inputs are checked
before anything runs, so no case needs a peer, /dev/kvm or a proof: each takes milliseconds.

  malformed_inputs.py LOCKSTEP_BINARY SOURCE_ROOT
"""
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile

USAGE, FINDING, OK = 2, 1, 0
TIMEOUT = 20  # seconds per case; a case that takes longer hangs

# Malformed programs: (name, file content, line, column, what the message must say). A name
# starting with mshv_ or vhost_ is a program of that protocol; the others fail before the
# protocol matters and are fed to every reader.
PROGRAMS = [
    ("missing_header", b"p0 = open_partition()\n", 1, 1, "missing '# lockstep <protocol>' header"),
    ("header_without_protocol", b"# lockstep\n", 1, 1, "missing '# lockstep <protocol>' header"),
    ("unknown_protocol", b"# lockstep xen\n", 1, 12, "unknown protocol 'xen'"),
    ("mshv_unknown_profile", b"# lockstep mshv  profile=nope\np0 = open_partition()\n", 1, 26,
     "unknown mshv profile 'nope' (valid: mshv-v1"),
    ("vhost_unknown_profile", b"# lockstep vhost  profile=zzz\nsend(GET_FEATURES)\n", 1, 27,
     "unknown vhost profile 'zzz' (valid: spec"),
    ("mshv_unknown_op", b"# lockstep mshv\nfrobnicate()\n", 2, 1, "unknown call 'frobnicate'"),
    ("vhost_unknown_op", b"# lockstep vhost\nfrobnicate()\n", 2, 1, "unknown call 'frobnicate'"),
    ("mshv_extra_positional", b"# lockstep mshv\np0 = open_partition(x)\n", 2, 21,
     "too many arguments"),
    ("mshv_repeated_key", b"# lockstep mshv\np0 = open_partition()\n"
     b"d0 = create_device(p0, type=1, type=2)\n", 3, 32, "repeated argument 'type'"),
    ("vhost_repeated_key", b"# lockstep vhost\nsend(GET_FEATURES, flags=0x1, flags=0x1)\n", 2, 31,
     "repeated argument 'flags'"),
    ("mshv_unknown_key", b"# lockstep mshv\np0 = open_partition()\n"
     b"d0 = create_device(p0, bogus=1)\n", 3, 24, "unknown argument 'bogus'"),
    ("vhost_unknown_key", b"# lockstep vhost\nsend(GET_FEATURES, bogus=1)\n", 2, 20,
     "unknown argument 'bogus'"),
    ("mshv_missing_argument", b"# lockstep mshv\nd0 = create_device()\n", 2, 6,
     "missing argument 1"),
    ("mshv_negative_type", b"# lockstep mshv\np0 = open_partition()\n"
     b"d0 = create_device(p0, type=-1)\n", 3, 24, "type=-1: a negative value"),
    ("mshv_type_out_of_range", b"# lockstep mshv\np0 = open_partition()\n"
     b"d0 = create_device(p0, type=0x100000000)\n", 3, 24, "out of range"),
    ("vhost_negative_u64", b"# lockstep vhost\nsend(GET_FEATURES, u64=-5)\n", 2, 20,
     "a negative value"),
    ("vhost_not_a_number", b"# lockstep vhost\nsend(GET_FEATURES, flags=zz)\n", 2, 20,
     "not a number"),
    ("vhost_unknown_request", b"# lockstep vhost\nsend(NOPE)\n", 2, 6, "not a number: 'NOPE'"),
    ("vhost_bad_fd_kind", b"# lockstep vhost\nsend(GET_FEATURES, fd=bogus)\n", 2, 20,
     "fd= must be eventfd, file or memfd:SIZE"),
    ("vhost_bad_region", b"# lockstep vhost\nsend(SET_MEM_TABLE, region=1:2)\n", 2, 21,
     "':'-separated numbers"),
    ("vhost_bad_raw_bytes", b"# lockstep vhost\nraw(zz)\n", 2, 5, "not a hex byte string"),
    ("vhost_bad_fault_site", b"# lockstep vhost\nfail_next(nothing)\n", 2, 11,
     "fail_next site must be"),
    ("mshv_wrong_result_name", b"# lockstep mshv\np1 = open_partition()\n", 2, 1,
     "result must be named 'p0'"),
    ("mshv_unclosed_call", b"# lockstep mshv\np0 = open_partition(\n", 2, 6,
     "expected name(args...)"),
    ("mshv_bad_result_name", b"# lockstep mshv\nx y = open_partition()\n", 2, 1,
     "bad result name 'x y'"),
    ("mshv_error_after_comments", b"\xef\xbb\xbf\n# a comment\n# lockstep mshv\n\n# another\n"
     b"p0 = open_partition(1)\n", 6, 21, "too many arguments"),
    ("invalid_utf8", b"# lockstep mshv\n\xff\xfe\n", 2, 1, "not UTF-8 text"),
    ("nul_byte", b"# lockstep mshv\na\0b\n", 2, 2, "not UTF-8 text"),
    ("random_bytes", bytes(range(256)) * 2, 1, 1, "not UTF-8 text"),
]


# Files that are not programs at all: (name, how to make it, message). No position: no text.
def make_empty(path): open(path, "wb").close()
def make_directory(path): os.mkdir(path)
def make_fifo(path): os.mkfifo(path)
NOT_FILES = [
    ("empty", make_empty, "empty file"),
    ("directory", make_directory, "is a directory"),
    ("fifo", make_fifo, "not a regular file"),
]

# Malformed expectations files of `lockstep peer` (peers/expectations.h), fed to both peers:
# (name, content, line, column, what). The content is formatted with the peer's names ({p} a
# profile it runs, {peer}, {other} a profile it does not run, {mutant} a negative variant,
# {other_peer}); a column given as a string is where that string starts on the line.
ENTRY = ("expect {p}: lockstep: divergence {peer}-peer/SET_FEATURES/closed\n"
         "  class: peer-defect\n  seen-by: generated\n  why: w\n  evidence: probe p\n")
def without(field): return "".join(l + "\n" for l in ENTRY.splitlines() if field not in l)
SIG = "expect {p}: lockstep: "
EXPECTATIONS = [
    ("unknown_class", ENTRY.replace("peer-defect", "defect"), 2, "defect",
     "unknown class 'defect'"),
    ("missing_class", without("class:"), 1, 1, "lacks: class"),
    ("missing_seen_by", without("seen-by:"), 1, 1, "lacks: seen-by"),
    ("missing_why", without("why:"), 1, 1, "lacks: why"),
    ("missing_evidence", without("evidence:"), 1, 1, "lacks: evidence"),
    ("missing_every_field", ENTRY.splitlines()[0] + "\n", 1, 1,
     "lacks: class seen-by why evidence"),
    ("bad_seen_by", ENTRY.replace("generated", "fuzzing"), 3, "fuzzing",
     "seen-by is corpus or generated, not 'fuzzing'"),
    ("class_twice", ENTRY + "  class: deviation\n", 6, 3, "`class` given twice"),
    ("seen_by_twice", ENTRY + "  seen-by: corpus\n", 6, 3, "`seen-by` given twice"),
    ("why_twice", ENTRY + "  why: again\n", 6, 3, "`why` given twice"),
    ("unknown_field", ENTRY + "  clas: x\n", 6, 3, "unknown field 'clas'"),
    ("field_without_colon", ENTRY + "  class deviation\n", 6, 3, "a field is `name: value`"),
    ("field_without_value", ENTRY + "  why:\n", 6, 7, "field 'why' has no value"),
    ("field_before_expect", "# known\n  class: deviation\n", 2, 3,
     "a field before any `expect` line"),
    ("misspelled_expect", ENTRY.replace("expect", "exepct"), 1, 1,
     "expected `expect SIGNATURE` or an indented field"),
    ("expect_without_signature", "expect \n", 1, 8, "`expect` without a signature"),
    ("duplicate_entry", ENTRY + "\n" + ENTRY, 7, 8, "signature listed twice (first at line 1)"),
    ("signature_without_profile", ENTRY.replace("{p}: ", ""), 1, 8,
     "runs no profile 'lockstep'"),
    ("unknown_profile", ENTRY.replace("{p}", "nope"), 1, 8, "runs no profile 'nope'"),
    ("other_protocols_profile", ENTRY.replace("{p}", "{other}"), 1, 8, "runs no profile"),
    ("negative_variant_profile", ENTRY.replace("{p}", "{mutant}"), 1, 8, "runs no profile"),
    ("unknown_kind", ENTRY.replace("divergence", "crash"), 1, "lockstep: crash",
     "expected `lockstep: divergence` or `lockstep: fd-leak` after the profile"),
    ("other_peer", ENTRY.replace("{peer}-peer", "{other_peer}-peer"), 1, "{other_peer}-peer",
     "names '{other_peer}-peer', not {peer}-peer"),
    ("no_field", ENTRY.replace("/closed", ""), 1, "/SET_FEATURES", "expected /OP/FIELD"),
    ("lowercase_op", ENTRY.replace("SET_FEATURES", "set_features"), 1, "/set_features",
     "expected /OP/FIELD"),
    ("empty_op", ENTRY.replace("SET_FEATURES", ""), 1, "//closed", "expected /OP/FIELD"),
    ("junk_after_signature", ENTRY.replace("/closed", "/closed extra"), 1, " extra",
     "only ` (details)` may follow the signature"),
    ("fd_leak_with_field", SIG + "fd-leak {peer}-peer/X/y\n", 1, "/X/y",
     "only ` (details)` may follow the signature"),
    ("bad_evidence", ENTRY.replace("probe p", "trust me"), 5, "trust me",
     "evidence is `source FILE: WHERE` or `probe WHAT WAS RUN`"),
    ("crlf_unknown_field", (ENTRY + "  clas: x\n").replace("\n", "\r\n"), 6, 3,
     "unknown field 'clas'"),
    ("bom_then_error", "\ufeffexepct\n", 1, 1, "expected `expect SIGNATURE`"),
    ("invalid_utf8", ENTRY.replace("why: w", "why: \udcff"), 4, 8, "not UTF-8 text"),
    ("nul_byte", ENTRY.replace("why: w", "why: \0"), 4, 8, "not UTF-8 text"),
]
PEERS = {
    "kvm": dict(p="mshv-v1", peer="kvm", other="spec", mutant="mutant-no-type-check",
                other_peer="dpdk", protocol="mshv"),
    "dpdk": dict(p="dpdk-22.11", peer="dpdk", other="mshv-v1", mutant="mutant-end-keeps-uffd",
                 other_peer="kvm", protocol="vhost"),
    "libvhost-user": dict(p="libvhost-user", peer="libvhost-user", other="mshv-v1",
                          mutant="mutant-end-keeps-uffd", other_peer="dpdk", protocol="vhost"),
}
CORPUS_DIR = {"mshv": "mshv_device", "vhost": "vhost_postcopy"}
BOTH = ("mshv", "vhost")

# Every command that reads programs: (label, message prefix, protocols it reads, its arguments).
# {file} is the program itself; {root} a corpus root holding it in programs/<target>/, for
# {protocol}.
READERS = [
    ("replay", "replay", BOTH, ["replay", "{file}"]),
    ("fmt", "fmt", BOTH, ["fmt", "{file}"]),
    ("fmt-check", "fmt", BOTH, ["fmt", "--check", "{file}"]),
    ("corpus-check", "corpus", BOTH, ["corpus", "check", "--root", "{root}"]),
    ("corpus-build", "corpus", BOTH, ["corpus", "build", "--root", "{root}"]),
    ("to-gtest", "corpus to-gtest", BOTH, ["corpus", "to-gtest", "{file}"]),
    ("corpus-min", "corpus min", BOTH,
     ["corpus", "min", "--protocol", "{protocol}", "--model-only", "{root}/programs/{target}"]),
    ("run", "run", BOTH, ["run", "{protocol}", "--corpus", "{root}", "--seconds", "0"]),
    ("prove", "prove", BOTH, ["prove", "--protocol", "{protocol}", "--corpus", "{root}"]),
    ("peer-kvm", "peer kvm", ("mshv",),
     ["peer", "kvm", "--corpus", "{root}", "--seconds", "0", "--expectations", "{kvm_expect}"]),
    ("peer-dpdk", "peer dpdk", ("vhost",),
     ["peer", "dpdk", "--corpus", "{root}", "--seconds", "0", "--expectations", "{dpdk_expect}"]),
    ("repro-dpdk", "repro", ("vhost",), ["repro", "{file}", "--peer", "dpdk", "--out", "r.c"]),
    ("repro-kvm", "repro", ("mshv",), ["repro", "{file}", "--peer", "kvm", "--out", "r.c"]),
    ("peer-libvhost-user", "peer libvhost-user", ("vhost",),
     ["peer", "libvhost-user", "--corpus", "{root}", "--seconds", "0", "--expectations",
      "{libvhost_user_expect}"]),
]


def protocol_of(name):
    return next((p for p in BOTH if name.startswith(p + "_")), None)


class Checker:
    """Collects (label, argv, code, pattern) cases, runs them two at a time, reports failures."""

    def __init__(self, binary, scratch, source):
        self.binary, self.scratch, self.cases = binary, scratch, []
        self.paths = {"kvm_expect": os.path.join(source, "peers/kvm/expectations.txt"),
                      "dpdk_expect": os.path.join(source, "peers/dpdk/expectations.txt"),
                      "libvhost_user_expect": os.path.join(source,
                                                           "peers/libvhost-user/expectations.txt")}

    def expect(self, label, args, code, pattern):
        self.cases.append((label, [a.format(**self.paths) for a in args], code, pattern))

    def run_one(self, case):
        label, args, code, pattern = case
        try:
            p = subprocess.run([self.binary] + args, capture_output=True, text=True,
                               timeout=TIMEOUT, errors="replace", stdin=subprocess.DEVNULL,
                               cwd=self.scratch)
        except subprocess.TimeoutExpired:
            return f"{label}: hung (> {TIMEOUT} s)"
        out = p.stdout + p.stderr
        if p.returncode != code:
            return f"{label}: exit {p.returncode}, expected {code}\n{out}"
        if not re.search(pattern, out, re.M):
            return f"{label}: no line matching {pattern!r} in\n{out}"
        return None

    def run(self):
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            return [f for f in pool.map(self.run_one, self.cases) if f]


def reader_cases(c, name, make, where, corpus_only=False):
    """Feeds one malformed program to every reader of its protocol (make(path, protocol) writes
    it, in a corpus root's programs/<target>/ for the readers of a corpus); where(path) is the
    regex the message must match after the command's prefix."""
    for label, prefix, protocols, args in READERS:
        protocol = protocol_of(name) or protocols[0]
        if protocol not in protocols or (corpus_only and "{file}" in args):
            continue
        root = os.path.join(c.scratch, label + "-" + name)
        path = os.path.join(root, "programs", CORPUS_DIR[protocol], name + ".txt")
        os.makedirs(os.path.dirname(path))
        make(path, protocol)
        argv = [a.replace("{file}", path).replace("{root}", root).replace("{protocol}", protocol)
                .replace("{target}", CORPUS_DIR[protocol]) for a in args]
        c.expect(f"{label}/{name}", argv, USAGE, f"^lockstep {prefix}: " + where(path))


def program_cases(c):
    for name, content, line, column, what in PROGRAMS:
        def make(path, protocol, content=content):
            with open(path, "wb") as f:
                f.write(content)
        reader_cases(c, name, make, lambda path, line=line, column=column, what=what:
                     re.escape(f"{path}:{line}:{column}: ") + ".*" + re.escape(what))
    for name, make, what in NOT_FILES:
        reader_cases(c, "not_a_file_" + name, lambda path, protocol, make=make: make(path),
                     lambda path, what=what: re.escape(f"{path}: ") + ".*" + re.escape(what))
    # A well-formed program of the other protocol in a protocol's corpus directory.
    other = {"mshv": "# lockstep vhost\nsend(GET_FEATURES)\n", "vhost": "# lockstep mshv\n"
             "p0 = open_partition()\n"}
    reader_cases(c, "other_protocol", lambda path, protocol: write(path, other[protocol]),
                 lambda path: re.escape(f"{path}:1:12: expected '# lockstep ") + ".*got protocol",
                 corpus_only=True)


def column_of(column, line_text, names):
    return column if isinstance(column, int) else line_text.index(column.format(**names)) + 1


def expectations_cases(c):
    for peer, names in PEERS.items():
        for name, content, line, column, what in EXPECTATIONS:
            text = content.format(**names)
            path = os.path.join(c.scratch, f"expectations-{peer}-{name}.txt")
            with open(path, "wb") as f:
                f.write(text.encode("utf-8", "surrogateescape"))
            line_text = text.lstrip("\ufeff").split("\n")[line - 1]
            where = f"{path}:{line}:{column_of(column, line_text, names)}: "
            c.expect(f"peer-{peer}/expectations-{name}",
                     ["peer", peer, "--expectations", path, "--seconds", "0"], USAGE,
                     f"^lockstep peer {peer}: " + re.escape(where) + ".*" +
                     re.escape(what.format(**names)))
        for name, make, what in NOT_FILES + [("missing", lambda path: None, "No such file")]:
            path = os.path.join(c.scratch, f"expectations-{peer}-not-a-file-{name}.txt")
            make(path)
            c.expect(f"peer-{peer}/expectations-{name}",
                     ["peer", peer, "--expectations", path, "--seconds", "0"], USAGE,
                     f"^lockstep peer {peer}: " + re.escape(f"{path}: ") + ".*" + re.escape(what))


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def corpus_with(c, name, source, extra):
    """A corpus root holding one valid mshv program (copied from the project's corpus) and its
    twin, then extra(root) to break it."""
    root = os.path.join(c.scratch, name)
    program = os.path.join(root, "programs", "mshv_device", "ok.txt")
    os.makedirs(os.path.dirname(program))
    os.makedirs(os.path.join(root, "mshv_device"))
    shutil.copy(os.path.join(source, "corpus/programs/mshv_device/add_del_round_trip.txt"),
                program)
    shutil.copy(os.path.join(source, "corpus/mshv_device/add_del_round_trip.bin"),
                os.path.join(root, "mshv_device", "ok.bin"))
    extra(root)
    return root


def replace_twin(make):
    def extra(root):
        os.remove(os.path.join(root, "mshv_device", "ok.bin"))
        make(os.path.join(root, "mshv_device", "ok.bin"))
    return extra


def twin_cases(c, source):
    """What lies beside the programs: the twins `corpus` compares and writes and `run` replays."""
    run = ["run", "mshv", "--seconds", "0", "--corpus"]
    fuzz_dir = lambda root: os.path.join(root, "mshv_device")
    cases = [  # (name, break the corpus, commands, what the message says)
        ("twin_is_fifo", replace_twin(make_fifo), ["check", "build", "run"],
         "ok.bin: not a regular file"),
        ("twin_is_directory", replace_twin(make_directory), ["check", "build", "run"],
         "ok.bin: not a regular file"),
        ("twin_dir_is_file", lambda root: (shutil.rmtree(fuzz_dir(root)),
                                           write(fuzz_dir(root), "x")),
         ["check", "build", "run"], "mshv_device: not a directory"),
        ("twin_missing", replace_twin(lambda path: None), ["run"],
         "ok.bin: missing or stale; run `lockstep corpus build`"),
        ("twin_stale", replace_twin(lambda path: write(path, "stale")), ["run"],
         "ok.bin: missing or stale"),
        ("fifo_among_inputs", lambda root: make_fifo(os.path.join(fuzz_dir(root), "f")), ["run"],
         "/f: not a regular file"),
        ("dangling_link_among_inputs", lambda root: os.symlink(
            "nowhere", os.path.join(fuzz_dir(root), "l")), ["run"], "/l: No such file"),
        ("program_among_inputs", lambda root: write(os.path.join(fuzz_dir(root), "p.txt"), "x"),
         ["run"], "p.txt: a readable program among the fuzz inputs"),
    ]
    for name, extra, commands, what in cases:
        root = corpus_with(c, "twins-" + name, source, extra)
        args = {"check": ["corpus", "check", "--root", root],
                "build": ["corpus", "build", "--root", root], "run": run + [root]}
        for command in commands:
            prefix = "run" if command == "run" else "corpus"
            c.expect(f"{prefix}-{command}/{name}".replace("run-run", "run"), args[command], USAGE,
                     f"^lockstep {prefix}: .*" + re.escape(what))


def command_cases(c, source):
    """Arguments that name nothing usable: missing corpora, output paths that are files."""
    nowhere = os.path.join(c.scratch, "no-such-corpus")
    empty = os.path.join(c.scratch, "empty-corpus")
    os.makedirs(os.path.join(empty, "mshv_device"))
    os.makedirs(os.path.join(empty, "programs"))
    a_file = os.path.join(c.scratch, "a-file")
    write(a_file, "x")
    missing = os.path.join(c.scratch, "missing.txt")
    cases = [
        ("replay/missing", ["replay", missing], re.escape(missing) + ": No such file"),
        ("fmt/missing", ["fmt", missing], re.escape(missing) + ": No such file"),
        ("run/missing-corpus", ["run", "mshv", "--corpus", nowhere, "--seconds", "0"],
         "no corpus at .*no-such-corpus"),
        ("run/empty-corpus", ["run", "mshv", "--corpus", empty, "--seconds", "0"],
         "holds no input and --seconds 0: nothing to test"),
        ("run/unknown-protocol", ["run", "xen"], "xen not in"),
        ("run/negative-seconds", ["run", "mshv", "--seconds", "-1"], "seconds"),
        ("corpus/missing-root", ["corpus", "check", "--root", nowhere],
         "no .*no-such-corpus/programs.* directory"),
        ("corpus/empty-root", ["corpus", "check", "--root", empty], "no programs? "),
        ("prove/missing-corpus", ["prove", "--corpus", nowhere],
         "^lockstep prove: no corpus at .*no-such-corpus/programs/mshv_device"),
        ("prove/emit-corpus-is-file", ["prove", "--emit-corpus", a_file],
         "^lockstep prove: " + re.escape(a_file) + ": not a directory"),
        ("prove/emit-corpus-under-file", ["prove", "--emit-corpus", a_file + "/sub"],
         "^lockstep prove: " + re.escape(a_file + "/sub") + ": cannot create"),
        ("prove/emit-corpus-unwritable", ["prove", "--emit-corpus", "/proc/lockstep"],
         "^lockstep prove: /proc/lockstep: cannot create"),
        ("prove/unknown-profile", ["prove", "--protocol", "mshv", "--profile", "nope"],
         "^lockstep prove: unknown mshv profile 'nope' \\(valid: mshv-v1, "),
        ("prove/unknown-protocol", ["prove", "--protocol", "xen"],
         "^lockstep prove: unknown protocol 'xen'"),
        ("prove/profile-without-protocol", ["prove", "--profile", "spec"],
         "^lockstep prove: --profile needs --protocol"),
        ("spec/unknown-profile", ["spec", "--protocol", "mshv", "--profile", "nope"],
         "^lockstep spec: unknown mshv profile 'nope' \\(valid: mshv-v1, "),
        ("spec/unknown-protocol", ["spec", "--protocol", "xen"], "xen not in"),
        ("spec/unknown-format", ["spec", "--format", "svg"], "svg not in"),
        ("spec/diff-unknown-profile", ["spec", "--diff", "spec", "nope"],
         "unknown profile 'nope' \\(mshv: mshv-v1, .*; vhost: spec, "),
        ("spec/diff-two-protocols", ["spec", "--diff", "mshv-v1", "spec"],
         "profiles of different protocols"),
        ("spec/diff-one-profile", ["spec", "--diff", "spec"], "--diff"),
        ("spec/out-unwritable", ["spec", "--out", a_file + "/sub"],
         "^lockstep spec: cannot write " + re.escape(a_file + "/sub")),
        ("corpus-gen/unknown-protocol", ["corpus", "gen", "--protocol", "xen"], "xen not in"),
        ("corpus-gen/cover-missing", ["corpus", "gen", "--cover", missing],
         re.escape(missing) + ": No such file"),
        ("corpus-gen/cover-malformed", ["corpus", "gen", "--cover", a_file],
         "^lockstep: error: " + re.escape(a_file) + ":1:"),
        ("cli/unknown-command", ["frobnicate"], "subcommand is required"),
        ("cli/no-command", [], "subcommand"),
    ]
    for peer in PEERS:
        cases += [
            (f"peer-{peer}/missing-corpus", ["peer", peer, "--corpus", nowhere, "--seconds", "0"],
             f"^lockstep peer {peer}: no corpus at .*no-such-corpus/programs/"),
            (f"peer-{peer}/unknown-profile", ["peer", peer, "--profile", "nope"],
             f"^lockstep peer {peer}: unknown profile 'nope'"),
            (f"peer-{peer}/negative-variant", ["peer", peer, "--profile",
                                               PEERS[peer]["mutant"]], "unknown profile"),
        ]
    for label, args, pattern in cases:
        c.expect(label, args, USAGE, pattern)
    c.expect("cli/help", ["--help"], OK, "replay")
    c.expect("cli/version", ["--version"], OK, r"^lockstep \d+\.\d+\.\d+")


def main():
    binary, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    with tempfile.TemporaryDirectory(prefix="lockstep-malformed-") as scratch:
        c = Checker(binary, scratch, source)
        program_cases(c)
        expectations_cases(c)
        twin_cases(c, source)
        command_cases(c, source)
        failures = c.run()
    counts = {}
    for label, *_ in c.cases:
        counts[label.split("/")[0]] = counts.get(label.split("/")[0], 0) + 1
    for f in failures:
        print("FAIL", f)
    print("cases per command:", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(f"{len(c.cases) - len(failures)}/{len(c.cases)} malformed-input cases behaved")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
