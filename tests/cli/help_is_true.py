#!/usr/bin/env python3
"""Every `lockstep` command's --help tells the truth about what it takes: both protocols where it
takes a protocol, every profile an option takes a profile from (as `lockstep profiles` lists
them: all of both protocols, or only those a real peer runs), and the default of every option
that takes a value and is not required (CLI11's `=VALUE`, or "default" in its description).

  help_is_true.py LOCKSTEP_BINARY              the check
  help_is_true.py LOCKSTEP_BINARY --self-test  it fires on help texts that lie by omission
"""
import re
import subprocess
import sys

ALL, SHIPPED, VHOST = "all", "shipped", "vhost"  # VHOST: every vhost profile, mutants too
# Every command: does it take a protocol, and which profiles its --profile takes. A command that
# `lockstep --help` lists and this table does not is a failure, so a new one gets a row.
COMMANDS = {
    "replay": (True, ALL),
    "run": (True, None),
    "mutants": (False, None),
    "corpus": (False, None),
    "corpus build": (False, None),
    "corpus check": (False, None),
    "corpus gen": (True, None),  # the first shipped profile of the protocol
    "corpus to-gtest": (True, None),  # --profile: only the profiles a real target implements
    "corpus min": (True, None),
    "fmt": (False, None),
    "profiles": (True, None),
    "peer": (True, SHIPPED),  # kvm: the mshv model, dpdk and libvhost-user: the vhost model
    "prove": (True, ALL),
    "summary": (False, None),  # reads the --json documents of run, prove and peer
    "monitor": (False, VHOST),  # the vhost model only; reads no file (--record writes one)
    "repro": (True, ALL),  # dpdk, libvhost-user: vhost programs; kvm: mshv; --profile: any
    "spec": (True, ALL),  # the model explorer's documents; --diff takes two profiles
}
# Every real peer `lockstep peer` runs: its help must name each (the positional and --profile).
PEERS = ("kvm", "dpdk", "libvhost-user")
TYPE = re.compile(r"^[A-Z]+(:\S*)?(=\S*)?$")  # CLI11: TEXT, FLOAT:NONNEGATIVE=10, UINT=1, ...


def lockstep(binary, *args):
    p = subprocess.run([binary, *args], capture_output=True, text=True, timeout=20,
                       stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise SystemExit(f"lockstep {' '.join(args)} exited {p.returncode}:\n{p.stderr}")
    return p.stdout


def profiles(listing):
    """{protocol: [(name, negative variant?)]} from `lockstep profiles`."""
    out, protocol = {}, None
    for line in listing.splitlines():
        if m := re.match(r"^(\w+) profiles", line):
            protocol = out.setdefault(m.group(1), [])
        elif m := re.match(r"^  (\S+)\s+(\*)?", line):
            protocol.append((m.group(1), m.group(2) == "*"))
    return out


def entries(help_text):
    """The option and positional entries of a CLI11 help text, one logical line each."""
    out, section = [], None
    for line in help_text.splitlines():
        if line in ("Options:", "Positionals:"):
            section = line
        elif not line.strip() or not line.startswith("  "):
            section = None if not line.startswith(" ") else section
        elif section and line.startswith(" " * 8) and out:
            out[-1] += "  " + line.strip()  # the description, wrapped under a long header
        elif section:
            out.append(line.strip())
    return out


def word(name, text):
    return re.search(r"(?<![\w-])" + re.escape(name) + r"(?![\w-])", text) is not None


def problems(command, help_text, takes_protocol, takes_profiles, known):
    """What `command`'s help leaves out; known is profiles()."""
    found = []
    if takes_protocol:
        found += [f"{command}: names no '{p}' protocol" for p in known if not word(p, help_text)]
    for entry in entries(help_text):
        tokens = re.split(r"\s{2,}", entry, maxsplit=1)[0].split()  # name, type, REQUIRED
        name = tokens[0]
        takes_value = len(tokens) > 1 and TYPE.match(tokens[1])
        if name.startswith("-h") or not takes_value or "REQUIRED" in tokens[:4]:
            pass
        elif "=" not in tokens[1] and "default" not in entry.lower():
            found.append(f"{command} {name}: no default: {entry}")
        if name == "--profile" and takes_profiles:
            want = [n for protocol, listed in known.items() for n, mutant in listed
                    if (takes_profiles == ALL or (takes_profiles == SHIPPED and not mutant) or
                        (takes_profiles == VHOST and protocol == "vhost"))]
            missing = [n for n in want if not word(n, entry)]
            if missing:
                found.append(f"{command} --profile: does not list {', '.join(missing)}")
            for default in re.findall(r"default: ([\w.-]+)\)", entry):
                if default != "all" and default not in want:
                    found.append(f"{command} --profile: default '{default}' is no profile")
    if takes_profiles and not any(e.startswith("--profile") for e in entries(help_text)):
        found.append(f"{command}: no --profile option")
    return found


def check(binary):
    known = profiles(lockstep(binary, "profiles"))
    if set(known) != {"mshv", "vhost"} or not all(known.values()):
        return [f"`lockstep profiles` lists {known}"]
    top = lockstep(binary, "--help")
    listed = set(re.findall(r"^  (\w+)  ", top.split("Subcommands:")[-1], re.M))
    found = [f"`lockstep --help` lists '{c}', which help_is_true.py does not know"
             for c in sorted(listed - set(COMMANDS))]
    found += [f"`lockstep --help` does not list '{c}'" for c in COMMANDS
              if " " not in c and c not in listed]
    for command, (protocol, profile_kind) in COMMANDS.items():
        text = lockstep(binary, *command.split(), "--help")
        found += problems(command, text, protocol, profile_kind, known)
    found += peers_missing(lockstep(binary, "peer", "--help"))
    return found


def peers_missing(help_text):
    return [f"peer: names no peer '{p}'" for p in PEERS if not word(p, help_text)]


def self_test():
    """Each rule fires on a help text that breaks it, and stays quiet on one that keeps it."""
    known = {"mshv": [("m1", False), ("mutant-m", True)], "vhost": [("v1", False)]}
    good = ("Options:\n  --profile TEXT   one of m1, mutant-m, v1 (default: m1) for mshv, vhost\n"
            "  --seconds FLOAT=10  how long\n  --corpus TEXT   root (default: ./corpus)\n"
            "  --json   flag\n")
    cases = [
        ("a protocol left out", good.replace(", vhost", ""), True, ALL, "names no 'vhost'"),
        ("a profile left out", good.replace("of m1, ", "of ").replace(": m1", ": v1"), False, ALL,
         "does not list m1"),
        ("a default left out", good.replace(" (default: ./corpus)", ""), False, ALL,
         "--corpus: no default"),
        ("a default that is no profile", good.replace("default: m1", "default: m2"), False,
         SHIPPED, "default 'm2' is no profile"),
        ("no --profile", good.replace("--profile", "--other"), False, ALL, "no --profile"),
    ]
    failures = [] if not problems("x", good, True, ALL, known) else ["fires on a true help text"]
    peer_help = "Positionals:\n  peer TEXT REQUIRED  kvm, dpdk or libvhost-user\n"
    if peers_missing(peer_help) or not peers_missing(peer_help.replace(" or libvhost-user", "")):
        failures.append("a peer left out of `peer --help`: the rule did not fire (or fired falsely)")
    for label, text, protocol, kind, want in cases:
        got = problems("x", text, protocol, kind, known)
        if not any(want in g for g in got):
            failures.append(f"{label}: wanted '{want}', got {got}")
    for f in failures:
        print("FAIL", f)
    print("self-test:", "every rule fires" if not failures else "a rule did not fire")
    return 1 if failures else 0


def main():
    if "--self-test" in sys.argv[1:]:
        return self_test()
    found = check(sys.argv[1])
    for f in found:
        print("FAIL", f)
    print(f"{len(COMMANDS)} commands' help checked: " +
          ("true" if not found else f"{len(found)} problem(s)"))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
