"""How a report reads: a table of issues and a one-line summary."""

from __future__ import annotations

from rich.console import Console

from config.issues import ValidationReport
from config.report import render_report, summary_line


def sample() -> ValidationReport:
    report = ValidationReport(subject="demo.toml")
    report.warning("defaults.risk", "no [defaults.risk] section")
    report.error("accounts[0].symbols", "account 'account-001' has no symbols")
    report.error("", "TOML syntax error at line 3, column 7: invalid value")
    return report


def test_the_table_lists_errors_before_warnings_with_their_paths() -> None:
    console = Console(record=True, width=160)
    console.print(render_report(sample()))
    lines = console.export_text().splitlines()
    header = next(line for line in lines if "severity" in line)
    assert header.index("severity") < header.index("path") < header.index("message")
    rows = [line for line in lines if " error " in line or " warning " in line]
    assert len(rows) == 3
    assert " error " in rows[0] and "accounts[0].symbols" in rows[0]
    assert " error " in rows[1] and "(file)" in rows[1] and "line 3" in rows[1]
    assert " warning " in rows[2] and "defaults.risk" in rows[2]
    assert "no [defaults.risk] section" in rows[2]  # brackets are text, not markup


def test_errors_are_red_and_warnings_yellow() -> None:
    table = render_report(sample())
    severities = list(table.columns[0].cells)
    assert [(str(c), str(c.style)) for c in severities] == [  # type: ignore[attr-defined]
        ("error", "bold red"),
        ("error", "bold red"),
        ("warning", "yellow"),
    ]


def test_summary_line_counts_errors_and_warnings() -> None:
    assert summary_line(sample()) == "2 errors, 1 warning in demo.toml"
    assert summary_line(ValidationReport(subject="x.toml")) == "0 errors, 0 warnings in x.toml"
