"""A closing line of the pytest run for a test that measures something worth reading in CI (the
schemathesis run's request count). Such a test calls ``record_property("summary", text)``; the
line is printed even under xdist, which hands the recorded properties over with each report."""

from __future__ import annotations

import pytest

SUMMARY = "summary"
_lines: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        _lines.extend(f"{report.nodeid}: {value}" for name, value in report.user_properties if name == SUMMARY)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _lines:
        terminalreporter.section("run summaries")
        for line in _lines:
            terminalreporter.write_line(line)
