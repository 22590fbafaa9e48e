"""The jobs screen: pending, running, done, scheduled and dead tabs, and the
detail of the job under the cursor (arguments, attempts, error and traceback,
result). An optimisation shows its progress bar, then its results table,
from which a parameter set is deployed. Opened with `J`, or `enter` on a job."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Label, ProgressBar, Static, TabbedContent, TabPane

from engine.models import Job, JobState, ParamSet, Schedule
from tui import formatting as fmt
from tui.host import Panel
from tui.messages import JobCommand
from tui.screens.base import PanelScreen
from tui.screens.confirm import ConfirmScreen
from tui.state import PanelState, Region
from tui.widgets.header import StatusHeader
from tui.widgets.jobs import JobsTable, job_row, job_state
from tui.widgets.keyed_table import Column, KeyedTable, Row

OPTIMIZE = "optimize_strategy"
# The lists re-read from the engine at most this often while jobs keep changing.
RELOAD_DELAY = 0.5

# Tab id -> the job states it lists, read from the engine (running is live).
_LISTED: dict[str, list[JobState]] = {
    "pending": [JobState.PENDING, JobState.SCHEDULED, JobState.FAILED],
    "done": [JobState.COMPLETED, JobState.CANCELLED],
    "dead": [JobState.DEAD],
}
TABS = ("pending", "running", "done", "scheduled", "dead")
_TITLES = {
    "pending": "Pending",
    "running": "Running",
    "done": "Done",
    "scheduled": "Scheduled",
    "dead": "Dead",
}


class JobListTable(JobsTable):
    """One tab's jobs; `enter` has nowhere further to go here."""

    def __init__(self, *, id: str) -> None:
        super().__init__(id=id)
        self.listed: dict[int, Job] = {}

    def show(self, jobs: list[Job]) -> None:
        self.listed = {job.id: job for job in jobs}
        self.sync([job_row(job) for job in jobs])

    def job_under_cursor(self) -> Job | None:
        key = self.cursor_key
        return None if key is None else self.listed.get(int(key))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open":
            return False
        return super().check_action(action, parameters)


class SchedulesTable(KeyedTable):
    COLUMNS = (
        Column("name", "Name", 20),
        Column("handler", "Handler", 18),
        Column("rule", "Rule", 14),
        Column("priority", "Prio", 8),
        Column("enabled", "Enabled", 8),
        Column("next", "Next run", 19),
        Column("last", "Last run", 19),
    )

    BINDINGS = [
        Binding(
            "n",
            "run",
            "Run now",
            id="schedules.run",
            tooltip="Queue the schedule's job now; its rule stays as it is",
        ),
        Binding(
            "e",
            "toggle",
            "Enable/disable",
            id="schedules.enable",
            tooltip="Admin: disable the schedule under the cursor, or enable it again",
        ),
    ]

    def schedule_under_cursor(self) -> Schedule | None:
        key = self.cursor_key
        return None if key is None else self.panel_state.schedules.get(key)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        schedule = self.schedule_under_cursor()
        if action == "run":
            return (self.permitted("schedules.run") and schedule is not None) or None
        if action == "toggle":
            if schedule is None:
                return None
            return self.permitted(_toggle(schedule)) or None
        return True

    def action_run(self) -> None:
        if (key := self.cursor_key) is not None:
            self.post_message(JobCommand("run", key))

    def action_toggle(self) -> None:
        if (schedule := self.schedule_under_cursor()) is not None:
            action = "disable" if schedule.enabled else "enable"
            self.post_message(JobCommand(action, schedule.name))


class ModelsTable(KeyedTable):
    """An optimisation's parameter sets, best first."""

    COLUMNS = (
        Column("id", "Model", 6),
        Column("rank", "Rank", 4, numeric=True),
        Column("params", "Parameters", 30),
        Column("score", "Score", 9, numeric=True),
        Column("return", "Return", 8, numeric=True),
        Column("drawdown", "Max DD", 8, numeric=True),
        Column("trades", "Trades", 6, numeric=True),
        Column("deployed", "Deployed to", 16),
    )

    BINDINGS = [
        Binding(
            "d",
            "deploy",
            "Deploy",
            id="models.deploy",
            tooltip="Apply the parameter set under the cursor to the running strategy "
            "it was tuned for (asks first)",
        ),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "deploy":
            return (self.permitted("models.deploy") and self.cursor_key is not None) or None
        return True

    def action_deploy(self) -> None:
        key = self.cursor_key
        if key is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.post_message(JobCommand("deploy", key))

        params = str(self.get_cell(key, "params"))
        question = (
            f"Deploy model {key} ({params}) to the strategy it was tuned for? It trades "
            "with these parameters from its next bar, keeping its positions."
        )
        self.app.push_screen(ConfirmScreen(question, confirm_label="Deploy"), answered)


class JobsScreen(PanelScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="jobs.back", tooltip="Back to the panes"),
        Binding(
            "ctrl+r",
            "reload",
            "Refresh",
            id="jobs.refresh",
            tooltip="Read every list of jobs and schedules again now",
        ),
        *(
            Binding(
                str(number),
                f"show_tab('{tab}')",
                _TITLES[tab],
                show=False,
                id=f"jobs.tab.{tab}",
                tooltip=f"Show the {_TITLES[tab].lower()} tab",
            )
            for number, tab in enumerate(TABS, 1)
        ),
    ]

    def __init__(self, panel: Panel, job_id: int | None = None) -> None:
        super().__init__(panel)
        self.job_id = job_id
        # The job the detail shows and, for an optimisation that finished, its sets.
        self.detail: Job | None = None
        self.models: list[ParamSet] | None = None
        self.loaded = False
        self._reload_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="header")
        with Vertical(id="jobs"):
            with TabbedContent(id="jobs-tabs"):
                for tab in TABS:
                    with TabPane(_TITLES[tab], id=f"tab-{tab}"):
                        if tab == "scheduled":
                            yield SchedulesTable(id="jobs-scheduled")
                        else:
                            yield JobListTable(id=f"jobs-{tab}")
            with VerticalScroll(id="job-detail"):
                yield Static(id="job-summary")
                yield ProgressBar(total=100, show_eta=False, id="job-progress")
                yield Label("Results", classes="detail-heading", id="job-results-label")
                yield ModelsTable(id="job-results")
                yield Static(id="job-body")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self._ready = True
        self.paint(self.panel.state, {Region.HEADER, Region.JOBS})
        self._show_detail(None)
        self.load()

    # --- painting --------------------------------------------------------------

    def paint(self, state: PanelState, dirty: set[Region]) -> None:
        if not self.live:
            return
        if Region.HEADER in dirty:
            self.show_header(state)
        if Region.JOBS in dirty:
            self.query_one("#jobs-running", JobListTable).show(state.running_jobs)
            self.query_one(SchedulesTable).sync(schedule_rows(state))
            self._follow_detail(state)
            if self.loaded and self._reload_timer is None:
                self._reload_timer = self.set_timer(RELOAD_DELAY, self._reload_due)
        self.refresh_keys()

    def _follow_detail(self, state: PanelState) -> None:
        """A running job's detail moves with its events; when an optimisation
        finishes, its results come in."""
        if self.detail is None:
            return
        live = state.jobs.get(self.detail.id)
        if live is not None and live != self.detail:
            self._show_detail(live)

    def _reload_due(self) -> None:
        self._reload_timer = None
        self.load()

    # --- loading ---------------------------------------------------------------

    def action_reload(self) -> None:
        self.load()

    @work(exclusive=True, group="jobs-lists")
    async def load(self) -> None:
        """Read the listed tabs and the schedules from the engine."""
        client, app = self.panel.client, self.panel
        lists = {}
        for tab, states in _LISTED.items():
            jobs = await app.attempt("Could not read the jobs", client.jobs(states))
            if jobs is None:
                return
            lists[tab] = jobs
        schedules = await app.attempt("Could not read the schedules", client.schedules())
        if schedules is None or not self.live:
            return
        app.state.load_schedules(schedules)
        for tab, jobs in lists.items():
            self.query_one(f"#jobs-{tab}", JobListTable).show(jobs)
        self.query_one(SchedulesTable).sync(schedule_rows(app.state))
        if not self.loaded:
            self.loaded = True
            self._open_first(lists)
        self.refresh_keys()

    def _open_first(self, lists: dict[str, list[Job]]) -> None:
        """Start on the job asked for (in whichever tab holds it), else the
        first tab with something in it."""
        state = self.panel.state
        wanted = self.job_id
        for tab in TABS:
            if tab == "scheduled":
                continue
            jobs = state.running_jobs if tab == "running" else lists[tab]
            ids = [job.id for job in jobs]
            if (wanted is None and ids) or (wanted is not None and wanted in ids):
                self.show_tab(tab, wanted)
                return
        if wanted is not None:
            self._load_job(wanted)

    def action_show_tab(self, tab: str) -> None:
        self.show_tab(tab)

    def show_tab(self, tab: str, job_id: int | None = None) -> None:
        self.query_one(TabbedContent).active = f"tab-{tab}"
        table = self.query_one(f"#jobs-{tab}", KeyedTable)
        if job_id is not None and str(job_id) in table.rows:
            table.move_cursor(row=table.get_row_index(str(job_id)), animate=False)
        table.focus()
        if isinstance(table, JobListTable):
            self._show_detail(table.job_under_cursor())

    @work(exclusive=True, group="job-detail")
    async def _load_job(self, job_id: int) -> None:
        job = await self.panel.attempt(
            f"Could not read job {job_id}", self.panel.client.job(job_id)
        )
        if job is not None and self.live:
            self._show_detail(job)

    # --- the detail ------------------------------------------------------------

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        table = event.data_table
        if isinstance(table, JobListTable) and table.has_focus:
            self._show_detail(table.job_under_cursor())

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        table = event.pane.query_one(KeyedTable)
        table.focus()
        if isinstance(table, JobListTable):
            self._show_detail(table.job_under_cursor())

    def _show_detail(self, job: Job | None) -> None:
        previous = self.detail
        self.detail = job
        self.query_one("#job-summary", Static).update(render_summary(job))
        self.query_one("#job-body", Static).update(render_body(job) if job else "")
        optimize = job is not None and job.handler == OPTIMIZE
        progress = self.query_one("#job-progress", ProgressBar)
        progress.display = optimize and job is not None and job.state is JobState.RUNNING
        if job is not None and progress.display:
            progress.update(progress=job.progress)
        finished = optimize and job is not None and job.state is JobState.COMPLETED
        if not finished:
            self.models = None
        elif previous is None or previous.id != job.id or previous.state is not job.state:
            self._load_models(job.id)
        self._show_models()

    @work(exclusive=True, group="job-models")
    async def _load_models(self, job_id: int) -> None:
        models = await self.panel.attempt(
            f"Could not read the results of job {job_id}", self.panel.client.models(job_id)
        )
        if models is not None and self.live and self.detail and self.detail.id == job_id:
            self.models = models
            self._show_models()

    def _show_models(self) -> None:
        table = self.query_one(ModelsTable)
        shown = self.models is not None
        table.display = shown
        self.query_one("#job-results-label", Label).display = shown
        table.sync(model_rows(self.models or []))
        self.refresh_keys()

    def reload_models(self) -> None:
        """After a deploy: the table says where each set is deployed."""
        if self.detail is not None and self.models is not None:
            self._load_models(self.detail.id)


def schedule_rows(state: PanelState) -> list[Row]:
    rows: list[Row] = []
    for name in sorted(state.schedules):
        s = state.schedules[name]
        rows.append(
            (
                name,
                (
                    name,
                    s.handler,
                    rule(s),
                    s.priority.value,
                    Text("yes", style="green") if s.enabled else Text("no", style="dim"),
                    fmt.stamp(s.next_run_at),
                    fmt.stamp(s.last_run_at),
                ),
            )
        )
    return rows


def model_rows(models: list[ParamSet]) -> list[Row]:
    rows: list[Row] = []
    for m in sorted(models, key=lambda m: m.rank):
        key = str(m.id)
        rows.append(
            (
                key,
                (
                    key,
                    fmt.right(str(m.rank)),
                    " ".join(f"{k}={v}" for k, v in m.params.items()),
                    fmt.right(_number(m.score)),
                    fmt.right(_percent(m.metrics.get("total_return"))),
                    fmt.right(_percent(m.metrics.get("max_drawdown"))),
                    fmt.right(str(m.metrics.get("trades", fmt.DASH))),
                    m.deployed_to or "",
                ),
            )
        )
    return rows


def _toggle(schedule: Schedule) -> str:
    """The permission the enable/disable key needs on this schedule."""
    return "schedules.disable" if schedule.enabled else "schedules.enable"


def rule(schedule: Schedule) -> str:
    """`every 30m`, `every 45s`, or the cron expression."""
    if schedule.cron is not None:
        return schedule.cron
    seconds = schedule.every_seconds or 0
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"every {seconds / size:g}{unit}"
    return f"every {seconds:g}s"


def render_summary(job: Job | None) -> RenderableType:
    """The job's identity and lifecycle, one fact a line."""
    if job is None:
        return Text("No job selected.", style="dim")
    title = Text(f"Job {job.id}  ", style="bold")
    title.append(job.handler, style="bold cyan")
    title.append("  ")
    title.append_text(job_state(job.state))
    if job.cancel_requested and job.state is JobState.RUNNING:
        title.append("  (cancelling)", style="yellow")
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim")
    facts.add_column()
    facts.add_row("priority", job.priority.value)
    facts.add_row("attempts", f"{job.attempts} of {job.max_retries + 1}")
    if job.schedule:
        facts.add_row("schedule", job.schedule)
    facts.add_row("created", fmt.stamp(job.created_at))
    facts.add_row("started", fmt.stamp(job.started_at))
    facts.add_row("finished", fmt.stamp(job.finished_at))
    if job.state in (JobState.PENDING, JobState.SCHEDULED, JobState.FAILED):
        facts.add_row("next run", fmt.stamp(job.run_at))
    if job.state is JobState.RUNNING or job.message:
        facts.add_row("progress", f"{job.progress:.0f}% {job.message}".rstrip())
    facts.add_row("arguments", _json(job.args) if job.args else "none")
    return Group(title, facts)


def render_body(job: Job) -> RenderableType:
    """What the job came to: its error and traceback, or its result."""
    parts: list[RenderableType] = []
    if job.error:
        parts.append(Text("Error", style="bold red"))
        parts.append(Text(job.error, style="red"))
    if job.traceback:
        parts.append(Text("Traceback", style="bold"))
        parts.append(Text(job.traceback.rstrip(), style="dim"))
    if job.result is not None:
        parts.append(Text("Result", style="bold"))
        parts.append(Text(_json(job.result)))
    return Group(*parts)


def _json(value: Any) -> str:
    return json.dumps(value, indent=1, sort_keys=True, default=str)


def _number(value: float | None) -> str:
    return fmt.DASH if value is None else f"{value:.3f}"


def _percent(value: Any) -> str:
    return fmt.DASH if not isinstance(value, int | float) else f"{value * 100:.2f}%"
