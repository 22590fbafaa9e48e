"""A validation report for people: a rich table of its issues and a one-line summary."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from config.issues import IssueSeverity, ValidationReport

_STYLES = {IssueSeverity.ERROR: "bold red", IssueSeverity.WARNING: "yellow"}
_WHOLE_FILE = "(file)"


def render_report(report: ValidationReport) -> Table:
    """Errors first, then warnings, each in the order they were found."""
    table = Table(title=report.subject, title_justify="left", expand=False)
    table.add_column("severity", no_wrap=True)
    table.add_column("path", style="cyan", overflow="fold")
    table.add_column("message", overflow="fold")
    for issue in [*report.errors, *report.warnings]:
        style = _STYLES[issue.severity]
        # Text, not markup: messages quote TOML tables such as [instruments].
        table.add_row(
            Text(issue.severity.value, style=style),
            Text(issue.path or _WHOLE_FILE),
            Text(issue.message),
        )
    return table


def summary_line(report: ValidationReport) -> str:
    """`2 errors, 1 warning in demo.toml`."""
    return f"{describe_counts(report)} in {report.subject}"


def describe_counts(report: ValidationReport) -> str:
    return f"{_plural(len(report.errors), 'error')}, {_plural(len(report.warnings), 'warning')}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
