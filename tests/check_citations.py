#!/usr/bin/env python3
"""Checks that the models' rule citations and the rule books agree, in both directions.

Each directory under model/ states one contract, and that contract's rule book is a file in docs/
(BOOKS below). The checker fails, printing one `path:line: message` per finding, when:
  * a comment in model/ cites a rule id that its book does not define;
  * a book defines a rule that no source in its model directory cites by itself (see ranges);
  * a book defines the same id twice, or a source under model/ has no book;
  * a model source or a docs/*-rules.md file names material that is not in the repository
    (FORBIDDEN: the shared/ and seeds/ trees and the reference notes outside the repository);
  * a rule row's last cell (the book's "spec or choice" column) carries no mark, or its mark is
    incomplete (see MARKS below);
  * `lockstep spec`'s list of profile switches (choices() in tools/explore_<protocol>.cc, written
    by hand) misses a member of `struct Profile` or names one that is not.

Marks, the last cell of every rule row:
  * `**spec**` followed by the one short sentence ("...", at most MAX_QUOTE characters) of the
    spec text, uAPI or series code that decides the rule, and where it comes from;
  * `**choice**` followed by what the text leaves open, the options, who takes which, and at
    least one `Profile::name` switch; every switch named must be a member of `struct Profile` in
    the book's model directory's profiles.h;
  * `**vocabulary**` for a rule that defines lockstep's own trace language: it names the `core/`
    file that defines it.

Citation syntax, in model/**/*.h and model/**/*.cc:
  * Only `//` comments are read. Code, string literals, and /* */ comments are never read.
  * A rule id is one or two upper-case ASCII letters followed by decimal digits, standing alone
    as a word: `C3`, `A11`, `X12`. In `W2/X1` or `P6, R2` each id is a separate citation.
  * A range `N1-N4` or `M1–M3` (both ends with the same letters; hyphen or en dash) needs every
    id in it to be defined. It does not count as citing them, though: every rule needs at least
    one citation of its own id, on the line that implements it.
  * Escape: text between two backticks on one comment line is quoted text, never a citation.
    Write `V3 06/11` for something that only looks like an id. An unpaired backtick in a
    comment is an error, so an escape cannot silently swallow the rest of the line.
  * NOT_RULE_IDS lists the project's own names that have the shape of an id (the Z3 solver);
    they are never citations, and no book may define them.

Sources are model/**/*.h, *.cc and *.def (X-macro tables). A source in no book's directory (a
header shared by both models) may cite nothing.

Rule definitions: a Markdown table row whose first cell is exactly an id (`| C3 | ... |`)
defines that id in its book.

Usage: check_citations.py [--root DIR] [--book MODEL_DIR=RULES_MD ...] [--self-test]
"""
from __future__ import annotations

import argparse
import pathlib
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass

BOOKS = {
    "model/mshv": "docs/mshv-device-rules.md",
    "model/vhost": "docs/vhost-backend-rules.md",
}
SOURCE_SUFFIXES = (".h", ".cc", ".def")
NOT_RULE_IDS = {"Z3"}  # the SMT solver behind proofs/
RULE_BOOK_GLOB = "docs/*-rules.md"

ID_PATTERN = r"[A-Z]{1,2}\d+"
NOT_WORD_BEFORE = r"(?<![A-Za-z0-9_])"
NOT_WORD_AFTER = r"(?![A-Za-z0-9_])"
SINGLE_ID = re.compile(NOT_WORD_BEFORE + r"(" + ID_PATTERN + r")" + NOT_WORD_AFTER)
RANGE = re.compile(NOT_WORD_BEFORE + r"([A-Z]{1,2})(\d+)\s*[-\u2013]\s*([A-Z]{1,2})(\d+)" +
                   NOT_WORD_AFTER)
BACKTICK_SPAN = re.compile(r"`[^`]*`")
TABLE_ROW_ID = re.compile(r"^\s*\|\s*(" + ID_PATTERN + r")\s*\|")
MARK = re.compile(r"^\*\*(spec|choice|vocabulary)\*\*")
QUOTE = re.compile(r'"([^"]+)"|\u201c([^\u201d]+)\u201d')
SWITCH = re.compile(r"Profile::([A-Za-z_][A-Za-z0-9_]*)")
PROFILE_MEMBER = re.compile(r"^\s*[A-Za-z_][\w:<>]*\s+([a-z_][a-z0-9_]*)\s*(?:=|;)")
MAX_QUOTE = 160
FORBIDDEN = re.compile(r"\bshared/|\bseeds/|\b(?:mshv-device|vhost-user-postcopy|"
                       r"fuzzing-and-proofs)\.md\b")


@dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(frozen=True)
class Citation:
    path: str
    line: int
    rule: str
    in_range: bool  # named only as a member of a range


# ---- reading C++ comments -----------------------------------------------------------------------


def _skip_quoted(text: str, i: int, quote: str) -> int:
    """Index just past the literal that starts at text[i] == quote."""
    i += 1
    while i < len(text) and text[i] != quote and text[i] != "\n":
        i += 2 if text[i] == "\\" else 1
    return i + 1


def _skip_raw_string(text: str, i: int) -> int:
    """text[i] is the `"` of R"delim( ... )delim"; index just past it."""
    open_paren = text.find("(", i)
    if open_paren < 0:
        return len(text)
    closing = ")" + text[i + 1:open_paren] + '"'
    end = text.find(closing, open_paren)
    return len(text) if end < 0 else end + len(closing)


def line_comments(text: str):
    """Yields (line number, text after `//`) for every `//` comment outside literals."""
    i, line = 0, 1
    while i < len(text):
        c = text[i]
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if c == "\n":
            line += 1
            i += 1
        elif c == "/" and nxt == "/":
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            yield line, text[i + 2:end]
            i = end
        elif c == "/" and nxt == "*":
            end = text.find("*/", i + 2)
            end = len(text) if end < 0 else end + 2
            line += text.count("\n", i, end)
            i = end
        elif c == '"':
            raw = re.search(r"(?:^|[^A-Za-z0-9_])(?:u8|u|U|L)?R$", text[max(0, i - 3):i])
            end = _skip_raw_string(text, i) if raw else _skip_quoted(text, i, '"')
            line += text.count("\n", i, end)
            i = end
        elif c == "'" and not (i > 0 and text[i - 1].isdigit()):  # 1'000 is a digit separator
            i = _skip_quoted(text, i, "'")
        else:
            i += 1


def citations_in(path: str, text: str, findings: list[Finding]) -> list[Citation]:
    cited: list[Citation] = []
    for line, comment in line_comments(text):
        if comment.count("`") % 2:
            findings.append(Finding(path, line, "unpaired backtick: close the `...` escape"))
            continue
        comment = BACKTICK_SPAN.sub(" ", comment)
        for m in RANGE.finditer(comment):
            first, lo, last, hi = m.group(1), int(m.group(2)), m.group(3), int(m.group(4))
            if first != last:
                continue  # two separate ids, read below
            if lo >= hi:
                findings.append(Finding(path, line, f"range {m.group(0)} is empty or reversed"))
            cited += [Citation(path, line, f"{first}{n}", True) for n in range(lo, hi + 1)]
            comment = comment[:m.start()] + " " * len(m.group(0)) + comment[m.end():]
        cited += [Citation(path, line, m.group(1), False) for m in SINGLE_ID.finditer(comment)
                  if m.group(1) not in NOT_RULE_IDS]
    return cited


# ---- reading rule books -------------------------------------------------------------------------


def rules_defined(path: str, text: str, findings: list[Finding]) -> dict[str, int]:
    """id -> line of its table row."""
    defined: dict[str, int] = {}
    for line, row in enumerate(text.splitlines(), start=1):
        m = TABLE_ROW_ID.match(row)
        if not m:
            continue
        rule = m.group(1)
        if rule in NOT_RULE_IDS:
            findings.append(Finding(path, line, f"{rule} is a name, not a rule id (NOT_RULE_IDS)"))
        elif rule in defined:
            findings.append(Finding(path, line, f"rule {rule} is defined twice (first on line "
                                                f"{defined[rule]})"))
        else:
            defined[rule] = line
    return defined


# ---- spec or choice marks ----------------------------------------------------------------------


def profile_switches(root: pathlib.Path, model_dir: str) -> set[str]:
    """The members of `struct Profile` in MODEL_DIR/profiles.h (empty if there is none)."""
    header = root / model_dir / "profiles.h"
    if not header.is_file():
        return set()
    body = header.read_text(encoding="utf-8").split("struct Profile {", 1)
    body = body[1].split("\n};", 1)[0] if len(body) == 2 else ""
    members = {m.group(1) for m in map(PROFILE_MEMBER.match, body.splitlines()) if m}
    # The label and the negative variants are not choices an implementation makes.
    return {s for s in members if s not in ("name", "summary", "mutant")
            and not s.startswith("mutant_")}


def _last_cell(row: str) -> str:
    cells = [c.strip() for c in re.split(r"(?<!\\)\|", row.strip())]
    cells = [c for c in cells[1:-1]] if row.strip().endswith("|") else cells[1:]
    return cells[-1] if cells else ""


def mark_problem(cell: str, switches: set[str], header: str) -> str | None:
    """What is wrong with one rule's mark, or None."""
    m = MARK.match(cell)
    if not m:
        return "has no spec/choice mark (its last cell must start with **spec**, **choice** or " \
               "**vocabulary**)"
    kind, rest = m.group(1), cell[m.end():]
    if kind == "spec":
        quotes = [a or b for a, b in QUOTE.findall(rest)]
        if not quotes:
            return "is marked spec but quotes no sentence (\"...\") of the text that decides it"
        long = [q for q in quotes if len(q) > MAX_QUOTE]
        if long:
            return f"quotes {len(long[0])} characters; at most {MAX_QUOTE} (one short sentence)"
    elif kind == "choice":
        named = SWITCH.findall(rest)
        if not named:
            return "is marked choice but names no profile switch (Profile::name)"
        unknown = [s for s in named if s not in switches]
        if unknown:
            return f"names Profile::{unknown[0]}, which is not a member of struct Profile in {header}"
    elif "`core/" not in rest:
        return "is marked vocabulary but names no `core/` file that defines it"
    return None


def check_marks(root: pathlib.Path, model_dir: str, book: str, text: str) -> list[Finding]:
    switches = profile_switches(root, model_dir)
    header = f"{model_dir}/profiles.h"
    findings = []
    for line, row in enumerate(text.splitlines(), start=1):
        m = TABLE_ROW_ID.match(row)
        if m and m.group(1) not in NOT_RULE_IDS:
            problem = mark_problem(_last_cell(row), switches, header)
            if problem:
                findings.append(Finding(book, line, f"rule {m.group(1)} {problem}"))
    return findings


# ---- lockstep spec's list of choices -----------------------------------------------------------

CHOICE_ROW = re.compile(r'^\s*(?:\{"([A-Za-z_]\w*)"|LOCKSTEP_(?:FLAG|NUM|ENUM)\(([A-Za-z_]\w*))',
                        re.MULTILINE)


def check_choices_listed(root: pathlib.Path, model_dir: str) -> list[Finding]:
    """`lockstep spec` lists the profile switches by hand (tools/explore_<protocol>.cc, choices()):
    a switch added to struct Profile and not listed there would be missing from docs/spec/."""
    switches = profile_switches(root, model_dir)
    explore = f"tools/explore_{pathlib.PurePath(model_dir).name}.cc"
    if not switches:
        return []
    if not (root / explore).is_file():
        return [Finding(explore, 0, f"does not exist: lockstep spec cannot list {model_dir}'s "
                                    "choices")]
    text = (root / explore).read_text(encoding="utf-8")
    start = text.find("::choices()")
    if start < 0:
        return [Finding(explore, 0, "has no choices(): lockstep spec cannot list the switches")]
    line = text.count("\n", 0, start) + 1
    body = text[start:text.find("\n}\n", start)]
    listed = {a or b for a, b in CHOICE_ROW.findall(body)}
    header = f"{model_dir}/profiles.h"
    return ([Finding(explore, line, f"choices() does not list Profile::{s} of {header}")
             for s in sorted(switches - listed)] +
            [Finding(explore, line, f"choices() lists {s}, which is not a switch of {header}")
             for s in sorted(listed - switches)])


# ---- the check ----------------------------------------------------------------------------------


def _relative(root: pathlib.Path, p: pathlib.Path) -> str:
    return p.relative_to(root).as_posix()


def _book_of(source: str, books: dict[str, str]) -> str | None:
    owners = [d for d in books if source.startswith(d.rstrip("/") + "/")]
    return max(owners, key=len) if owners else None


def _forbidden_mentions(path: str, text: str) -> list[Finding]:
    return [
        Finding(path, line, f"names material outside the repository ({m.group(0)}); cite a "
            "public source or a file in the repository instead")
        for line, row in enumerate(text.splitlines(), start=1)
        for m in FORBIDDEN.finditer(row)
    ]


def check_book(root: pathlib.Path, model_dir: str, book: str, sources: list[str],
               findings: list[Finding]) -> str:
    """Checks one model directory against its rule book; returns a one-line summary."""
    book_path = root / book
    if not book_path.is_file():
        findings.append(Finding(book, 0, f"rule book of {model_dir} does not exist"))
        return f"{model_dir}: no rule book"
    book_text = book_path.read_text(encoding="utf-8")
    defined = rules_defined(book, book_text, findings)
    findings += check_marks(root, model_dir, book, book_text)
    findings += check_choices_listed(root, model_dir)
    cited: list[Citation] = []
    for source in sources:
        cited += citations_in(source, (root / source).read_text(encoding="utf-8"), findings)
    for c in cited:
        if c.rule not in defined:
            how = "a range that includes" if c.in_range else "cites"
            findings.append(Finding(c.path, c.line, f"{how} {c.rule}, which {book} does not "
                                                    "define"))
    cited_alone = {c.rule for c in cited if not c.in_range}
    for rule, line in defined.items():
        if rule not in cited_alone:
            findings.append(Finding(book, line, f"rule {rule} is defined but no source in "
                                                f"{model_dir}/ cites it"))
    return (f"{model_dir} -> {book}: {len(defined)} rules, {len(cited)} citations in "
            f"{len(sources)} files")


def check(root: pathlib.Path, books: dict[str, str]) -> tuple[list[Finding], list[str]]:
    findings: list[Finding] = []
    sources = sorted(_relative(root, p) for p in (root / "model").rglob("*")
                     if p.is_file() and p.suffix in SOURCE_SUFFIXES)
    by_book: dict[str, list[str]] = {d: [] for d in books}
    for source in sources:
        owner = _book_of(source, books)
        if owner is not None:
            by_book[owner].append(source)
            continue
        text = (root / source).read_text(encoding="utf-8")
        findings += [Finding(c.path, c.line, f"cites {c.rule}, but no rule book covers this "
                                             "file (add its directory to BOOKS)")
                     for c in citations_in(source, text, findings)]
    summaries = [check_book(root, d, books[d], by_book[d], findings) for d in sorted(books)]
    scanned = set(sources) | {_relative(root, p) for p in root.glob(RULE_BOOK_GLOB)}
    for path in sorted(scanned):
        findings += _forbidden_mentions(path, (root / path).read_text(encoding="utf-8"))
    return sorted(set(findings)), summaries


# ---- self-test: the checker must fire on a fixture with known faults ----------------------------

FIXTURE_SOURCE = """\
// A fixture model for the citation checker.
int ok = 0;         // Q1: cited and defined
int wrong = 0;      // Q9: cited but not defined
const char* s = "// Q8 inside a string literal is code";
int quoted = 0;     // `V1 06/13` is escaped, not a citation
int spanned = 0;    // Q1-Q3: a range cites none of its members
/* Q7 in a block comment is not read */
int sep = 1'000;    // the digit separator does not open a char literal: Q1
"""
FIXTURE_BOOK = """\
| ID | rule | spec or choice |
|---|---|---|
| Q1 | cited on its own | **spec**: "Q1 holds." (demo.rst § One) |
| Q2 | never cited | **choice**: open; options a, b; switch `Profile::real_switch` |
| Q3 | named only inside a range | **vocabulary**: the trace language (`core/demo/ops.h`) |
Copied from shared/reference/notes.md.
"""
# Rules whose mark is missing or incomplete: each must be refused (lines 7-12 of the book).
FIXTURE_BAD_MARKS = """\
| Q4 | no mark at all | the reason column, not a mark |
| Q5 | a choice without a switch | **choice**: open; options a, b |
| Q6 | a choice naming a switch that does not exist | **choice**: `Profile::no_such_switch` |
| Q7 | a spec without its sentence | **spec**: vhost-user.rst somewhere |
| Q8 | a choice naming a negative variant | **choice**: `Profile::mutant_demo` |
| Q10 | vocabulary without its definition | **vocabulary**: ours |
"""
FIXTURE_PROFILES = """\
struct Profile {
  std::string name;
  bool real_switch = false;
  bool mutant_demo = false;
};
"""
# lockstep spec's list of the demo model's switches: real_switch listed, a stale row too.
FIXTURE_EXPLORE = """\
std::vector<Choice<demo::Profile>> ExploreTraits<DemoBinding>::choices() {
  return {
      {"real_switch", "Q2", [](const P& p) { return yes(p.real_switch); }},
      LOCKSTEP_FLAG(removed_switch, "Q2"),
  };
}
"""
FIXTURE_EXPECTED = {
    ("model/demo/demo.cc", 3, "cites Q9"),
    ("docs/demo-rules.md", 4, "rule Q2 is defined but no source"),
    ("docs/demo-rules.md", 5, "rule Q3 is defined but no source"),
    ("docs/demo-rules.md", 6, "names material outside the repository (shared/)"),
    ("docs/demo-rules.md", 7, "rule Q4 has no spec/choice mark"),
    ("docs/demo-rules.md", 8, "rule Q5 is marked choice but names no profile switch"),
    ("docs/demo-rules.md", 9, "rule Q6 names Profile::no_such_switch, which is not a member"),
    ("docs/demo-rules.md", 10, "rule Q7 is marked spec but quotes no sentence"),
    ("docs/demo-rules.md", 11, "rule Q8 names Profile::mutant_demo, which is not a member"),
    ("docs/demo-rules.md", 12, "rule Q10 is marked vocabulary but names no `core/` file"),
    ("tools/explore_demo.cc", 1, "choices() lists removed_switch, which is not a switch"),
}
# Marks are checked whether or not the rule is cited: the uncited findings of Q4-Q10 are expected.
FIXTURE_EXPECTED |= {("docs/demo-rules.md", n, f"rule Q{q} is defined but no source")
                     for n, q in zip(range(7, 13), (4, 5, 6, 7, 8, 10))}


def _write_fixture(root: pathlib.Path, source: str, book: str,
                   explore: str = FIXTURE_EXPLORE) -> dict[str, str]:
    (root / "model/demo").mkdir(parents=True)
    (root / "docs").mkdir()
    (root / "tools").mkdir()
    (root / "tools/explore_demo.cc").write_text(explore, encoding="utf-8")
    (root / "model/demo/demo.cc").write_text(source, encoding="utf-8")
    (root / "model/demo/profiles.h").write_text(FIXTURE_PROFILES, encoding="utf-8")
    (root / "docs/demo-rules.md").write_text(book, encoding="utf-8")
    return {"model/demo": "docs/demo-rules.md"}


def _unexpected(findings: list[Finding]) -> list[str]:
    problems = []
    for path, line, text in sorted(FIXTURE_EXPECTED):
        if not any(f.path == path and f.line == line and text in f.message for f in findings):
            problems.append(f"missed: {path}:{line}: {text}")
    for f in findings:
        if not any(f.path == p and f.line == l and t in f.message for p, l, t in FIXTURE_EXPECTED):
            problems.append(f"false alarm: {f}")
    return problems


def self_test() -> int:
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp) / "broken"
        books = _write_fixture(root, FIXTURE_SOURCE, FIXTURE_BOOK + FIXTURE_BAD_MARKS)
        findings, _ = check(root, books)
        problems += _unexpected(findings)
        cli = subprocess.run([sys.executable, __file__, "--root", str(root), "--book",
                              "model/demo=docs/demo-rules.md"], capture_output=True, text=True)
        if cli.returncode != 1 or "cites Q9" not in cli.stderr or "Q4 has no spec" not in cli.stderr:
            problems.append(f"the command line exited {cli.returncode} on the broken fixture")
        clean = pathlib.Path(tmp) / "clean"
        marks = "| Q1 | a | **spec**: \"a.\" (demo.rst) |\n| Q2 | b | **choice**: `Profile::real_switch` |\n"
        listed = FIXTURE_EXPLORE.replace('      LOCKSTEP_FLAG(removed_switch, "Q2"),\n', "")
        books = _write_fixture(clean, "int x;  // Q1, Q2\n", marks, listed)
        findings, _ = check(clean, books)
        problems += [f"false alarm on the clean fixture: {f}" for f in findings]
        unlisted = pathlib.Path(tmp) / "unlisted"  # a switch choices() forgets
        books = _write_fixture(unlisted, "int x;  // Q1, Q2\n", marks,
                               listed.replace('{"real_switch"', '{"other_name"'))
        findings, _ = check(unlisted, books)
        if not any("does not list Profile::real_switch" in f.message for f in findings):
            problems.append("a switch choices() does not list was not reported")
    for p in problems:
        print(f"self-test: {p}", file=sys.stderr)
    if not problems:
        print(f"self-test: the checker reports exactly the {len(FIXTURE_EXPECTED)} planted "
              "faults and passes the clean fixture")
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=pathlib.Path,
                        default=pathlib.Path(__file__).resolve().parent.parent)
    parser.add_argument("--book", action="append", metavar="MODEL_DIR=RULES_MD",
                        help="map a model directory to its rule book (default: BOOKS)")
    parser.add_argument("--self-test", action="store_true",
                        help="prove the checker fires on a fixture with planted faults")
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    books = dict(b.split("=", 1) for b in args.book) if args.book else BOOKS
    findings, summaries = check(args.root.resolve(), books)
    for f in findings:
        print(f, file=sys.stderr)
    if findings:
        print(f"{len(findings)} citation problem(s)", file=sys.stderr)
        return 1
    for s in summaries:
        print(s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
