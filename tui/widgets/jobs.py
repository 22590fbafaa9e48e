"""The jobs pane: jobs queued by priority, running jobs with their progress
bars, and the latest completions and failures, keyed by job id."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from engine.models import Job, JobPriority, JobState, JobStats
from tui import formatting as fmt
from tui.messages import JobCommand, OpenJobs
from tui.state import PanelState
from tui.widgets.keyed_table import Column, KeyedTable, Row
from tui.widgets.pane import Pane

PROGRESS_WIDTH = 10

_STATE_STYLES = {
    JobState.PENDING: "",
    JobState.SCHEDULED: "dim",
    JobState.RUNNING: "bold cyan",
    JobState.COMPLETED: "green",
    JobState.FAILED: "yellow",
    JobState.CANCELLED: "dim",
    JobState.DEAD: "bold red",
}
_PRIORITY_STYLES = {
    JobPriority.CRITICAL: "bold red",
    JobPriority.HIGH: "yellow",
    JobPriority.NORMAL: "",
    JobPriority.LOW: "dim",
}
# States a job can be cancelled in (still to run, or running).
CANCELLABLE = frozenset({JobState.PENDING, JobState.SCHEDULED, JobState.FAILED, JobState.RUNNING})


class JobsTable(KeyedTable):
    COLUMNS = (
        Column("id", "ID", 5),
        Column("handler", "Handler", 18),
        Column("priority", "Prio", 8),
        Column("state", "State", 9),
        Column("progress", "Progress", PROGRESS_WIDTH + 5),
        Column("time", "Time", 8),
        Column("message", "Message / error", 48),
    )

    BINDINGS = [
        Binding(
            "enter",
            "open",
            "Jobs",
            id="jobs.open",
            tooltip="Open the jobs screen on this job: arguments, attempts, error, result",
        ),
        Binding(
            "R",
            "retry",
            "Retry",
            id="jobs.retry",
            tooltip="Run the dead job under the cursor again (out of the dead-letter queue)",
        ),
        Binding(
            "c",
            "cancel",
            "Cancel job",
            id="jobs.cancel",
            tooltip="Cancel the job under the cursor: at once if waiting, at its next "
            "checkpoint if running",
        ),
    ]

    def job_under_cursor(self) -> Job | None:
        key = self.cursor_key
        return None if key is None else self.panel_state.jobs.get(int(key))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return job_action_allowed(self, action, self.job_under_cursor())

    def action_open(self) -> None:
        if (key := self.cursor_key) is not None:
            self.post_message(OpenJobs(int(key)))

    def action_retry(self) -> None:
        if (key := self.cursor_key) is not None:
            self.post_message(JobCommand("retry", key))

    def action_cancel(self) -> None:
        if (key := self.cursor_key) is not None:
            self.post_message(JobCommand("cancel", key))


class JobsPane(Pane):
    """The jobs pane: a line of queue counts above the table of jobs."""

    DEFAULT_CSS = """
    JobsPane > .jobs-summary {
        height: 1;
        padding: 0 1;
    }
    """

    def compose(self) -> ComposeResult:
        yield Input(placeholder=f"filter {self.title.lower()}", classes="pane-filter")
        yield Static(id="jobs-summary", classes="jobs-summary")
        yield self.table

    def show_rows(self, rows: Sequence[Row]) -> None:
        """The counts come with the rows: both repaint when the jobs change."""
        stats = self.table.panel_state.job_stats
        self.query_one("#jobs-summary", Static).update(render_stats(stats))
        super().show_rows(rows)


def job_action_allowed(table: KeyedTable, action: str, job: Job | None) -> bool | None:
    """Retry applies to a dead job, cancel to one still to run or running."""
    if action == "retry":
        return (
            table.permitted("jobs.retry") and job is not None and job.state is JobState.DEAD
        ) or None
    if action == "cancel":
        cancellable = job is not None and job.state in CANCELLABLE and not job.cancel_requested
        return (table.permitted("jobs.cancel") and cancellable) or None
    if action == "open":
        return job is not None or None
    return True


def job_rows(state: PanelState) -> list[Row]:
    """Running jobs first (oldest first), then the latest finished."""
    return [job_row(job) for job in (*state.running_jobs, *state.finished_jobs)]


def job_row(job: Job) -> Row:
    when = job.finished_at or job.started_at or job.created_at
    return (
        str(job.id),
        (
            str(job.id),
            job.handler,
            priority(job.priority),
            job_state(job.state),
            progress_bar(job.progress) if job.state is JobState.RUNNING else Text(fmt.DASH),
            fmt.hms(when),
            job_note(job),
        ),
    )


def render_stats(stats: JobStats | None) -> Text:
    """`queued  critical 0  high 2  normal 5  low 1  ·  running 2/4  ·  dead 1`"""
    if stats is None:
        return Text("queue: not read yet", style="dim")
    text = Text("queued", style="bold")
    for p in JobPriority:
        count = stats.queued.get(p, 0)
        text.append(f"  {p.value} ", style="dim")
        text.append(str(count), style=_PRIORITY_STYLES[p] if count else "dim")
    text.append("  ·  running ", style="bold")
    text.append(f"{stats.running}/{stats.runners}")
    text.append("  ·  dead ", style="bold")
    text.append(str(stats.dead), style="bold red" if stats.dead else "dim")
    return text


def progress_bar(percent: float, width: int = PROGRESS_WIDTH) -> Text:
    """`██████····  60%`"""
    filled = max(0, min(width, round(percent / 100 * width)))
    bar = Text("█" * filled, style="cyan")
    bar.append("·" * (width - filled), style="dim")
    bar.append(f" {percent:3.0f}%")
    return bar


def job_state(state: JobState) -> Text:
    return Text(state.value, style=_STATE_STYLES[state])


def priority(value: JobPriority) -> Text:
    return Text(value.value, style=_PRIORITY_STYLES[value])


def job_note(job: Job) -> Text:
    """The error of a failed job, else its latest progress message."""
    if job.error and job.state in (JobState.FAILED, JobState.DEAD):
        return Text(job.error, style="red")
    if job.cancel_requested and job.state is JobState.RUNNING:
        return Text("cancelling...", style="yellow")
    return Text(job.message)
