"""Collecting results and writing them: live progress, the summary table, JUnit XML and Markdown.

``Results`` is shared by every check family (several may run in threads), so it is lock-protected.
A deviation is a *failure* unless the prediction rests on behaviour the reference marks as inferred;
those are *warnings*: they are reported, but do not make the server non-conformant.
"""

from __future__ import annotations

import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TextIO

__all__ = [
    "Deviation",
    "Family",
    "ProgressPrinter",
    "Results",
    "Severity",
    "markdown_report",
    "summary_table",
    "write_junit",
]

Severity = Literal["failure", "warning"]


@dataclass(frozen=True)
class Deviation:
    """One difference between the server and the contract, with what is needed to reproduce it."""

    family: str
    severity: Severity
    title: str
    problems: tuple[str, ...]
    curl: str = ""
    seed: int | None = None
    inferred: tuple[str, ...] = ()
    context: str = ""
    """Extra lines: the request's kind, the Hypothesis reproduction hint, Schemathesis' own findings."""

    def text(self) -> str:
        lines = [f"[{self.family}] {self.title}", *(f"  - {problem}" for problem in self.problems)]
        if self.inferred:
            lines.append(f"  (rests on inferred behaviour: {', '.join(self.inferred)})")
        if self.context:
            lines += [f"  {line}" for line in self.context.splitlines()]
        if self.seed is not None:
            lines.append(f"  re-run: --seed {self.seed}")
        if self.curl:
            lines.append(f"  reproduce: {self.curl}")
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
    deviations: list[Deviation] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    profile: str = ""
    seed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _warning_keys: Counter[str] = field(default_factory=Counter)

    def family(self, name: str) -> Family:
        with self._lock:
            return self.families.setdefault(name, Family(name))

    def count(self, name: str, requests: int = 1) -> None:
        with self._lock:
            self.families.setdefault(name, Family(name)).checked += requests

    def add(self, deviation: Deviation) -> None:
        with self._lock:
            family = self.families.setdefault(deviation.family, Family(deviation.family))
            if deviation.severity == "warning":
                # One inferred behaviour tends to differ on many requests: show three per check and cause.
                key = f"{deviation.family}|{deviation.inferred}"
                self._warning_keys[key] += 1
                family.warnings += 1
                if self._warning_keys[key] > 3:
                    return
            else:
                family.failed += 1
            self.deviations.append(deviation)

    def notice(self, text: str) -> None:
        with self._lock:
            self.notices.append(text)

    @property
    def checked(self) -> int:
        return sum(family.checked for family in self.families.values())

    @property
    def failures(self) -> list[Deviation]:
        return [d for d in self.deviations if d.severity == "failure"]

    @property
    def warnings(self) -> list[Deviation]:
        return [d for d in self.deviations if d.severity == "warning"]

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


def write_junit(results: Results, path: Path) -> None:
    """JUnit XML: one test case per check family; each failure deviation becomes a <failure>."""
    by_family: dict[str, list[Deviation]] = {}
    for deviation in results.deviations:
        by_family.setdefault(deviation.family, []).append(deviation)
    suite = ET.Element(
        "testsuite",
        name="rc-triggers-conformance",
        tests=str(len(results.families)),
        failures=str(sum(1 for f in results.families.values() if f.failed)),
        errors="0",
        skipped="0",
        time=f"{results.elapsed:.3f}",
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("profile", results.profile),
        ("seed", str(results.seed)),
        ("requests", str(results.checked)),
    ):
        ET.SubElement(properties, "property", name=name, value=value)
    for family in results.families.values():
        case = ET.SubElement(
            suite, "testcase", classname="contract_tests", name=family.name, time=f"{family.seconds:.3f}"
        )
        found = by_family.get(family.name, [])
        failures = [d for d in found if d.severity == "failure"]
        if failures:
            failure = ET.SubElement(case, "failure", message=failures[0].title, type="ContractDeviation")
            failure.text = "\n\n".join(d.text() for d in failures)
        warnings = [d for d in found if d.severity == "warning"]
        out = [f"{family.checked} requests checked"] + [d.text() for d in warnings]
        ET.SubElement(case, "system-out").text = "\n\n".join(out)
    root = ET.Element("testsuites")
    root.append(suite)
    tree = ET.ElementTree(root)
    ET.indent(tree)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree.write(path, encoding="utf-8", xml_declaration=True)


def markdown_report(results: Results, base_url: str) -> str:
    """A Markdown report a CI artifact viewer (or a GitHub job summary) can show."""
    verdict = "conformant" if not results.failures else "NOT conformant"
    lines = [
        "# Livechat Triggers conformance report",
        "",
        f"- Server: `{base_url}`",
        f"- Profile: `{results.profile}`",
        f"- Seed: `{results.seed}` (re-run with `--seed {results.seed}` to draw the same requests)",
        f"- Requests checked: {results.checked} in {results.elapsed:.1f} s",
        f"- Verdict: **{verdict}** "
        f"({len(results.failures)} failures, {len(results.warnings)} warnings shown)",
        "",
        "## Summary",
        "",
        "| check | requests | failures | warnings |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {f.name} | {f.checked} | {f.failed} | {f.warnings} |" for f in results.families.values()]
    for title, group in (("Failures", results.failures), ("Warnings (inferred behaviour)", results.warnings)):
        if not group:
            continue
        lines += ["", f"## {title}", ""]
        for deviation in group:
            lines += [f"### [{deviation.family}] {deviation.title}", ""]
            lines += [f"- {problem}" for problem in deviation.problems]
            if deviation.inferred:
                lines.append(f"- rests on inferred behaviour: {', '.join(deviation.inferred)}")
            if deviation.context:
                lines += ["", "```", deviation.context, "```"]
            if deviation.curl:
                lines += ["", "Reproduce:", "", "```sh", deviation.curl, "```"]
            lines.append("")
    if results.notices:
        lines += ["", "## Notes", ""] + [f"- {notice}" for notice in results.notices]
    return "\n".join(lines) + "\n"
