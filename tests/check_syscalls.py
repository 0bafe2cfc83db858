#!/usr/bin/env python3
"""Every syscall impl/ and the back-end daemon (tools/vhost_*) make goes through impl/sys.h (a
named site of core/*/sites.def, core/vhost/daemon_sites.def, or the harness): this fails when a
file under impl/ other than impl/sys.cc, or a tools/vhost_* file, calls one of impl/sys.h's
syscalls directly (`::close(fd)`, `accept4(fd, ...)`, `syscall(SYS_...)`).

  check_syscalls.py --root DIR   check DIR/impl and DIR/tools/vhost_* (exit 1 and one line per
                                 direct call)
  check_syscalls.py --self-test  prove the check fires on a fixture with direct calls
"""
import argparse
import pathlib
import re
import sys
import tempfile

# The syscalls impl/sys.h wraps, read from its declarations, plus the raw entry points that would
# bypass any wrapper.
EXTRA = ["syscall", "fcntl", "dup", "dup2", "dup3", "accept", "accept4", "bind", "listen",
         "read", "write", "pipe", "pipe2", "epoll_create1", "epoll_wait", "epoll_ctl"]


def wrapped(root):
    header = (root / "impl" / "sys.h").read_text()
    names = set(re.findall(r"^\S.*?\b([a-z_0-9]+)\(Site site", header, re.M))
    names |= set(re.findall(r"^\S.*?\b([a-z_0-9]+)\(Site\)", header, re.M))
    names.discard("dup_cloexec")
    return sorted(names | set(EXTRA))


def checked_files(root):
    """impl/ (but impl/sys.*, the one door) and the daemon's sources, tools/vhost_*."""
    files = [p for p in (root / "impl").rglob("*") if p.name not in ("sys.cc", "sys.h")]
    files += list((root / "tools").glob("vhost_*"))
    return sorted(p for p in files if p.suffix in (".cc", ".h", ".c"))


def declared_in_impl(root):
    """Names the checked files declare themselves (Frontend::close, ImplTarget::bind,
    MessageReader::read): a bare call of one is that function; the syscall must then be written
    `::name(`."""
    names = set()
    for path in checked_files(root):
        if path.suffix == ".h":
            names |= set(re.findall(r"^\s+[\w:<>*&, ]+?\b([a-z_0-9]+)\([^;]*\)[^;]*;", path.read_text(),
                                    re.M))
    return names


def direct_calls(root, names):
    own = declared_in_impl(root)
    call = re.compile(r"(?<![\w.>])(::)?(" + "|".join(map(re.escape, names)) + r")\s*\(")
    found = []
    for path in checked_files(root):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = re.sub(r'"(\\.|[^"\\])*"', '""', line)  # string literals: "open(/dev/null)"
            code = re.sub(r"/\*.*?(\*/|$)", "", code.split("//")[0])
            if re.match(r"\s*(/?\*)", code):  # a block comment line
                continue
            for m in call.finditer(code):
                before = code[: m.start()]
                if re.search(r"sys::\s*$", before):
                    continue
                if not m.group(1) and (m.group(2) in own or
                                       re.search(r"(\w[\w:<>*&]*\s+|~|::)$", before) and
                                       not re.search(r"(return|[=(,!|&])\s*$", before)):
                    continue  # impl's own function, or a declaration
                found.append(f"{path.relative_to(root)}:{number}: direct {m.group(2)}() "
                             "outside impl/sys.cc; call it through impl/sys.h with its site "
                             "(core/*/sites.def, core/vhost/daemon_sites.def or kHarness)")
    return found


def self_test():
    root = pathlib.Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        fixture = pathlib.Path(tmp)
        (fixture / "impl").mkdir()
        (fixture / "impl" / "sys.h").write_text((root / "impl" / "sys.h").read_text())
        (fixture / "impl" / "ok.cc").write_text(
            "int f(int fd) { return sys::close(sys::kHarness, fd); }\n"
            "void Frontend::close() { sock_.reset(); }\n  fe_.close();\n")
        (fixture / "impl" / "own.h").write_text("class F {\n  void close();\n};\n")
        (fixture / "impl" / "bad.cc").write_text(
            "void g(int fd) { ::close(fd); }\n"
            "void* h() { return mmap(nullptr, 4096, 0, 0, -1, 0); }\n"
            "int u() { return static_cast<int>(::syscall(SYS_userfaultfd, 0)); }\n"
            "int d(int fd) { return ::fcntl(fd, F_DUPFD_CLOEXEC, 0); }\n")
        (fixture / "tools").mkdir()
        (fixture / "tools" / "vhost_server.h").write_text("class S {\n  void drop(int id);\n};\n")
        (fixture / "tools" / "vhost_ok.cc").write_text(
            "int a(int l) { return sys::accept4(at(Site::Accept), l, 0); }\n"
            "void S::drop(int id) {}\n  drop(1);\n")
        (fixture / "tools" / "vhost_bad.cc").write_text(
            "int a(int l) { UniqueFd s(::accept4(l, nullptr, nullptr, 0)); }\n"
            "int w(int e) { return epoll_wait(e, ev, 64, -1); }\n"
            "void u(const char* p) { ::unlink(p); }\n"
            "void l() { log(\"listen(%d)\", 1); }  // a string or comment: listen(fd)\n")
        (fixture / "tools" / "other.cc").write_text("void c(int fd) { ::close(fd); }\n")
        found = direct_calls(fixture, wrapped(fixture))
        want = ["impl/bad.cc:1: direct close()", "impl/bad.cc:2: direct mmap()",
                "impl/bad.cc:3: direct syscall()", "impl/bad.cc:4: direct fcntl()",
                "tools/vhost_bad.cc:1: direct accept4()", "tools/vhost_bad.cc:2: direct epoll_wait()",
                "tools/vhost_bad.cc:3: direct unlink()"]
        missing = [w for w in want if not any(f.startswith(w) for f in found)]
        extra = [f for f in found if not f.startswith(("impl/bad.cc", "tools/vhost_bad.cc"))]
        if missing or extra:
            print("self-test failed: missing", missing, "unexpected", extra)
            return 1
    print("self-test: the check fires on 7 direct calls (4 in impl/, 3 in tools/vhost_*) and "
          "passes the wrapped ones")
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", type=pathlib.Path)
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    if not args.root:
        ap.error("--root or --self-test")
    names = wrapped(args.root)
    found = direct_calls(args.root, names)
    for line in found:
        print(line)
    if found:
        return 1
    print(f"impl/, tools/vhost_*: no direct call of {len(names)} syscalls outside impl/sys.cc")
    return 0


if __name__ == "__main__":
    sys.exit(main())
