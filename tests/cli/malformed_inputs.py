#!/usr/bin/env python3
"""Every `lockstep` command that reads files, fed malformed input: each case must end with the
exact documented exit code (README "Exit codes") and a message naming the file and, for text,
the position (FILE:LINE:COL), within a time bound (a hang is a failure).

  malformed_inputs.py LOCKSTEP_BINARY
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

USAGE, FINDING, OK = 2, 1, 0

# (name, file content, line, column, what the message must say). Both protocols, the same rules.
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
    ("error_after_comments", b"\xef\xbb\xbf\n# a comment\n# lockstep mshv\n\n# another\n"
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


class Checker:
    def __init__(self, binary, scratch):
        self.binary, self.scratch, self.failures, self.cases = binary, scratch, [], 0

    def expect(self, label, args, code, pattern):
        self.cases += 1
        try:
            p = subprocess.run([self.binary] + args, capture_output=True, text=True, timeout=20,
                               errors="replace", stdin=subprocess.DEVNULL, cwd=self.scratch)
        except subprocess.TimeoutExpired:
            self.failures.append(f"{label}: hung (> 20 s)")
            return
        out = p.stdout + p.stderr
        if p.returncode != code:
            self.failures.append(f"{label}: exit {p.returncode}, expected {code}\n{out}")
        elif not re.search(pattern, out, re.M):
            self.failures.append(f"{label}: no line matching {pattern!r} in\n{out}")


def program_cases(c, scratch):
    for name, content, line, column, what in PROGRAMS:
        path = os.path.join(scratch, name + ".txt")
        with open(path, "wb") as f:
            f.write(content)
        where = re.escape(f"{path}:{line}:{column}: ") + ".*" + re.escape(what)
        c.expect(f"replay/{name}", ["replay", path], USAGE, "^lockstep replay: " + where)
        c.expect(f"fmt/{name}", ["fmt", path], USAGE, "^lockstep fmt: " + where)
        c.expect(f"fmt-check/{name}", ["fmt", "--check", path], USAGE, "^lockstep fmt: " + where)
        root = os.path.join(scratch, "corpus-" + name)
        os.makedirs(os.path.join(root, "programs", "mshv_device"))
        in_corpus = os.path.join(root, "programs", "mshv_device", name + ".txt")
        shutil.copy(path, in_corpus)
        where = re.escape(f"{in_corpus}:{line}:{column}: ") + ".*" + re.escape(what)
        c.expect(f"corpus-check/{name}", ["corpus", "check", "--root", root], USAGE,
                 "^lockstep corpus: " + where)


def file_cases(c, scratch):
    for name, make, what in NOT_FILES:
        path = os.path.join(scratch, "not-a-file-" + name + ".txt")
        make(path)
        where = "^lockstep {}: " + re.escape(f"{path}: ") + ".*" + re.escape(what)
        c.expect(f"replay/{name}", ["replay", path], USAGE, where.format("replay"))
        c.expect(f"fmt/{name}", ["fmt", path], USAGE, where.format("fmt"))
        c.expect(f"fmt-check/{name}", ["fmt", "--check", path], USAGE, where.format("fmt"))
    missing = os.path.join(scratch, "missing.txt")
    c.expect("replay/missing", ["replay", missing], USAGE, re.escape(missing) + ": No such file")
    c.expect("fmt/missing", ["fmt", missing], USAGE, re.escape(missing) + ": No such file")


def campaign_cases(c, scratch):
    nowhere = os.path.join(scratch, "no-such-corpus")
    empty = os.path.join(scratch, "empty-corpus")
    os.makedirs(os.path.join(empty, "mshv_device"))
    c.expect("run/missing-corpus", ["run", "mshv", "--corpus", nowhere, "--seconds", "0"], USAGE,
             "no corpus at .*no-such-corpus")
    c.expect("run/empty-corpus", ["run", "mshv", "--corpus", empty, "--seconds", "0"], USAGE,
             "holds no input and --seconds 0: nothing to test")
    c.expect("run/unknown-protocol", ["run", "xen"], USAGE, "xen not in")
    c.expect("run/negative-seconds", ["run", "mshv", "--seconds", "-1"], USAGE, "seconds")
    c.expect("corpus/missing-root", ["corpus", "check", "--root", nowhere], USAGE,
             "no .*no-such-corpus/programs.* directory")
    c.expect("corpus/empty-root", ["corpus", "check", "--root", empty], USAGE, "no programs? ")
    c.expect("cli/unknown-command", ["frobnicate"], USAGE, "subcommand is required")
    c.expect("cli/no-command", [], USAGE, "subcommand")
    c.expect("cli/help", ["--help"], OK, "replay")
    c.expect("cli/version", ["--version"], OK, r"^lockstep \d+\.\d+\.\d+")


def main():
    binary = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="lockstep-malformed-") as scratch:
        os.makedirs(os.path.join(scratch, "empty-corpus", "programs"))
        c = Checker(binary, scratch)
        program_cases(c, scratch)
        file_cases(c, scratch)
        campaign_cases(c, scratch)
    for f in c.failures:
        print("FAIL", f)
    print(f"{c.cases - len(c.failures)}/{c.cases} malformed-input cases behaved")
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
