"""Collecting results and writing them: live progress, the summary table, JUnit XML and Markdown.

``Results`` is shared by every check family (several may run in threads), so it is lock-protected.
A deviation is a *failure* unless the prediction rests on behaviour the reference marks as inferred;
those are *warnings*: they are reported, but do not make the server non-conformant.
"""

from __future__ import annotations

import re
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TextIO

__all__ = [
    "Deviation",
    "Family",
    "Kind",
    "ProgressPrinter",
    "Results",
    "Severity",
    "deviation_kind",
    "markdown_report",
    "summary_table",
    "write_junit",
]

Severity = Literal["failure", "warning"]


EXAMPLES_PER_KIND = 3
"""How many examples of one kind of deviation are kept and shown (the shortest; all are counted)."""


@dataclass(frozen=True)
class Deviation:
    """One difference between the server and the contract, with what is needed to reproduce it."""

    family: str
    severity: Severity
    title: str
    problems: tuple[str, ...]
    curl: str = ""
    """A POSIX ``sh`` script (one or more lines) that sends the request(s) again."""
    seed: int | None = None
    inferred: tuple[str, ...] = ()
    context: str = ""
    """Extra lines: the request's kind, the Hypothesis reproduction hint, Schemathesis' own findings."""
    kind: str = ""
    """What broke, without the values of this one request (``deviation_kind`` when empty)."""
    observed_status: int | None = None
    """The status the server answered to the request the deviation shows on (the last of ``curl``)."""

    def what(self) -> str:
        return self.kind or deviation_kind(self.problems)

    def text(self, *, with_family: bool = True) -> str:
        first = f"[{self.family}] {self.title}" if with_family else self.title
        lines = [first, *(f"  - {problem}" for problem in self.problems)]
        if self.inferred:
            lines.append(f"  (rests on inferred behaviour: {', '.join(self.inferred)})")
        if self.context:
            lines += [f"  {line}" for line in self.context.splitlines()]
        if self.seed is not None:
            lines.append(f"  re-run: --seed {self.seed}")
        if self.curl:
            lines.append("  reproduce (sh):")
            lines += [f"    {line}" for line in self.curl.splitlines()]
        return "\n".join(lines)


_INDEX = re.compile(r"\[\d+\]")
_VALUES = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'[^']*'|\{.*\}|\b[\w-]*\d[\w-]*\b")


def problem_kind(problem: str) -> str:
    """``problem`` without the values of one request: the field or header, and what kind of mistake."""
    if problem.startswith(("status:", "header ")):
        head = problem.partition(" (±")[0]
        return re.sub(r"'\d{6,}'", "'…'", head)  # reset times differ on every request
    label, found, rest = problem.partition(": $")
    if found:  # one JSON path per difference: the kind is the set of paths
        entries = ("$" + rest).split(" (trigger ")[0].split("; ")
        paths = sorted(
            {_INDEX.sub("[]", entry.split(":", 1)[0]) for entry in entries if entry.startswith("$")}
        )
        return f"{label}: {', '.join(paths)}"
    if problem.startswith("body: same JSON value"):
        return "body: same JSON value, different bytes"
    if problem.startswith("body: differs at byte"):
        return "body: different bytes"
    head = problem.split(": ", 1)[0]
    return _INDEX.sub("[]", _VALUES.sub("…", head)).strip()


def deviation_kind(problems: Sequence[str]) -> str:
    """The kind of a deviation: a wrong status alone when there is one (the body differs with it)."""
    kinds = [problem_kind(problem) for problem in problems]
    status = [kind for kind in kinds if kind.startswith("status:")]
    return "; ".join(status or sorted(dict.fromkeys(kinds)))


@dataclass
class Kind:
    """Every deviation of one kind within one family: how often, and a few examples."""

    family: str
    severity: Severity
    name: str
    count: int = 0
    examples: list[Deviation] = field(default_factory=list)

    @property
    def inferred(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name for d in self.examples for name in d.inferred))

    def heading(self) -> str:
        times = "once" if self.count == 1 else f"{self.count} times"
        return f"[{self.family}] {self.name} ({times})"

    def text(self) -> str:
        shown = len(self.examples)
        more = f" ({shown} of {self.count} shown)" if self.count > shown else ""
        lines = [self.heading() + more]
        for number, example in enumerate(self.examples, 1):
            text = example.text(with_family=False)
            lines.append(f"  example {number}: " + text.replace("\n", "\n  "))
        return "\n".join(lines)


@dataclass
class Family:
    """Counts for one check family (one row of the summary table)."""

    name: str
    checked: int = 0
    failed: int = 0
    warnings: int = 0
    seconds: float = 0.0


@dataclass
class Results:
    """Everything one run found; methods are safe to call from several threads."""

    families: dict[str, Family] = field(default_factory=dict)
    kinds: dict[tuple[str, str, str], Kind] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    profile: str = ""
    seed: int = 0
    planned: dict[str, str] = field(default_factory=dict)
    """Every family the run means to run, with why it would not run (empty: it will)."""
    stopped: str = ""
    """Why the run stopped before its end (empty when it ran to the end)."""
    prefix: str = ""
    """The name prefix of every trigger this run created."""
    leftovers: list[str] = field(default_factory=list)
    """Ids of triggers of this run still stored after the cleanup (or never verified gone)."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def family(self, name: str) -> Family:
        with self._lock:
            return self.families.setdefault(name, Family(name))

    def plan(self, name: str, skipped_because: str = "") -> None:
        with self._lock:
            self.planned.setdefault(name, skipped_because)

    def count(self, name: str, requests: int = 1) -> None:
        with self._lock:
            self.families.setdefault(name, Family(name)).checked += requests

    def add(self, deviation: Deviation) -> None:
        """Count ``deviation`` under its kind; the first few of each kind are kept as examples."""
        with self._lock:
            family = self.families.setdefault(deviation.family, Family(deviation.family))
            if deviation.severity == "warning":
                family.warnings += 1
            else:
                family.failed += 1
            key = (deviation.family, deviation.severity, deviation.what())
            kind = self.kinds.get(key)
            if kind is None:
                kind = self.kinds[key] = Kind(deviation.family, deviation.severity, key[2])
            kind.count += 1
            # Without Hypothesis' shrinking (the families never stop at a failure), keep the shortest
            # examples of each kind: the easiest to read and to reproduce.
            if len(kind.examples) < EXAMPLES_PER_KIND:
                kind.examples.append(deviation)
            else:
                longest = max(range(len(kind.examples)), key=lambda i: len(kind.examples[i].curl))
                if len(deviation.curl) < len(kind.examples[longest].curl):
                    kind.examples[longest] = deviation

    def notice(self, text: str) -> None:
        with self._lock:
            if text not in self.notices:
                self.notices.append(text)

    @property
    def checked(self) -> int:
        return sum(family.checked for family in self.families.values())

    @property
    def failures(self) -> list[Kind]:
        """Every distinct kind of failure (each with its count and examples)."""
        return [kind for kind in self.kinds.values() if kind.severity == "failure"]

    @property
    def warnings(self) -> list[Kind]:
        return [kind for kind in self.kinds.values() if kind.severity == "warning"]

    @property
    def deviations(self) -> list[Deviation]:
        """The kept examples of every kind."""
        return [example for kind in self.kinds.values() for example in kind.examples]

    def skipped(self) -> dict[str, str]:
        """Families that checked nothing, with the reason."""
        reasons: dict[str, str] = {}
        for name, reason in self.planned.items():
            # A planned name may stand for several families ("schemathesis" for one per operation).
            ran = [
                f
                for f in self.families.values()
                if (f.name == name or f.name.startswith(name + " ")) and (f.checked or f.failed or f.warnings)
            ]
            if ran:
                continue
            reasons[name] = reason or (
                f"not reached: {self.stopped}" if self.stopped else "nothing generated"
            )
        return reasons

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


class ProgressPrinter:
    """Prints the running totals every ``interval`` seconds on stderr (one rewritten line on a terminal)."""

    def __init__(self, results: Results, stream: TextIO = sys.stderr, interval: float = 1.0) -> None:
        self.results, self.stream, self.interval = results, stream, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)
        self._tty = stream.isatty()

    def __enter__(self) -> ProgressPrinter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self._tty:
            self.stream.write("\n")

    def line(self) -> str:
        r = self.results
        busy = [f for f in r.families.values() if f.checked]
        last = f"{busy[-1].name} ({busy[-1].checked})" if busy else "starting"
        warnings = sum(f.warnings for f in r.families.values())
        return (
            f"[{r.elapsed:6.1f}s] {r.checked} requests checked in {len(busy)} checks, "
            f"{len(r.failures)} failures, {warnings} warnings; now: {last}"
        )

    def _loop(self) -> None:
        every = self.interval if self._tty else max(self.interval, 5.0)
        while not self._stop.wait(every):
            if self._tty:
                self.stream.write("\r" + self.line()[:150].ljust(150))
            else:
                self.stream.write(self.line() + "\n")
            self.stream.flush()


def summary_table(results: Results) -> str:
    """A fixed-width table: one row per check family, then the totals."""
    rows = [("check", "requests", "failures", "warnings")]
    rows += [(f.name, str(f.checked), str(f.failed), str(f.warnings)) for f in results.families.values()]
    rows.append(
        (
            "total",
            str(results.checked),
            str(sum(f.failed for f in results.families.values())),
            str(sum(f.warnings for f in results.families.values())),
        )
    )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=False))
        )
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(len(lines) - 1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _failure_message(kind: Kind) -> str:
    # The field or header and expected vs got, from the first example (the kind names only the field).
    example = kind.examples[0]
    return f"{kind.name}: " + "; ".join(example.problems)[:600] if example.problems else kind.name


def write_junit(results: Results, path: Path) -> None:
    """JUnit XML: one test case per distinct deviation kind (named by family and what broke), one
    passing case per family without deviations, a skipped case per family that did not run; each
    warning kind once, in the run's system-out."""
    suite = ET.Element("testsuite", name="rc-triggers-conformance", time=f"{results.elapsed:.3f}")
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("profile", results.profile),
        ("seed", str(results.seed)),
        ("requests", str(results.checked)),
        ("prefix", results.prefix),
        ("stopped", results.stopped),
    ):
        ET.SubElement(properties, "property", name=name, value=value)
    tests = failures = skipped = 0
    kinds_by_family: dict[str, list[Kind]] = {}
    for kind in results.failures:
        kinds_by_family.setdefault(kind.family, []).append(kind)
    for family in results.families.values():
        if family.name in results.skipped():
            continue
        found = kinds_by_family.pop(family.name, [])
        for kind in found:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"contract_tests.{family.name}",
                name=f"{family.name}: {kind.name}",
            )
            failure = ET.SubElement(case, "failure", message=_failure_message(kind), type="ContractDeviation")
            failure.text = kind.text()
            tests, failures = tests + 1, failures + 1
        if not found:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"contract_tests.{family.name}",
                name=family.name,
                time=f"{family.seconds:.3f}",
            )
            ET.SubElement(case, "system-out").text = f"{family.checked} requests checked"
            tests += 1
    for name, reason in results.skipped().items():
        case = ET.SubElement(suite, "testcase", classname=f"contract_tests.{name}", name=name)
        ET.SubElement(case, "skipped", message=reason)
        tests, skipped = tests + 1, skipped + 1
    out = [kind.text() for kind in results.warnings] + [f"note: {notice}" for notice in results.notices]
    ET.SubElement(suite, "system-out").text = "\n\n".join(out)
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", str(skipped))
    root = ET.Element("testsuites")
    root.append(suite)
    tree = ET.ElementTree(root)
    ET.indent(tree)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree.write(path, encoding="utf-8", xml_declaration=True)


def markdown_report(results: Results, base_url: str) -> str:
    """A Markdown report a CI artifact viewer (or a GitHub job summary) can show."""
    verdict = "conformant" if not results.failures else "NOT conformant"
    if results.stopped and not results.failures:
        verdict = "incomplete"
    lines = [
        "# Livechat Triggers conformance report",
        "",
        f"- Server: `{base_url}`",
        f"- Profile: `{results.profile}`",
        f"- Seed: `{results.seed}` (re-run with `--seed {results.seed}` to draw the same requests)",
        f"- Run prefix: `{results.prefix.strip()}` (every trigger this run created is named with it)",
        f"- Requests checked: {results.checked} in {results.elapsed:.1f} s",
        f"- Verdict: **{verdict}** "
        f"({len(results.failures)} kinds of failure, {len(results.warnings)} kinds of warning)",
    ]
    if results.stopped:
        lines.append(f"- Stopped early: {results.stopped}")
    lines += [
        "",
        "## Summary",
        "",
        "| check | requests | failures | warnings |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {f.name} | {f.checked} | {f.failed} | {f.warnings} |" for f in results.families.values()]
    skipped = results.skipped()
    if skipped:
        lines += ["", "## Not run", ""] + [f"- {name}: {reason}" for name, reason in skipped.items()]
    for title, group in (("Failures", results.failures), ("Warnings (inferred behaviour)", results.warnings)):
        if not group:
            continue
        lines += ["", f"## {title}", ""]
        for kind in group:
            shown = len(kind.examples)
            lines += [f"### {kind.heading()}", ""]
            if kind.count > shown:
                lines += [f"{shown} of {kind.count} examples shown.", ""]
            for deviation in kind.examples:
                lines += [f"#### {deviation.title}", ""]
                lines += [f"- {problem}" for problem in deviation.problems]
                if deviation.inferred:
                    lines.append(f"- rests on inferred behaviour: {', '.join(deviation.inferred)}")
                if deviation.context:
                    lines += ["", "```", deviation.context, "```"]
                if deviation.curl:
                    shows = (
                        f" (its last answer shows it: status {deviation.observed_status})"
                        if deviation.observed_status is not None
                        else ""
                    )
                    lines += ["", f"Reproduce (POSIX sh){shows}:", "", "```sh", deviation.curl, "```"]
                lines.append("")
    if results.leftovers:
        lines += ["", "## Left on the server", ""]
        lines += [f"- `{trigger_id}`" for trigger_id in results.leftovers]
    if results.notices:
        lines += ["", "## Notes", ""] + [f"- {notice}" for notice in results.notices]
    return "\n".join(lines) + "\n"
