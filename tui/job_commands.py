"""The jobs pane's and screen's commands: run against the engine client, their
outcome folded into the panel's state and said in a notification."""

from __future__ import annotations

from tui import formatting as fmt
from tui.host import PanelApp
from tui.messages import JobCommand
from tui.screens.jobs import JobsScreen


async def run_job_command(app: PanelApp, command: JobCommand) -> None:
    """Carry out `command`; a refusal is a notification saying why (`app.attempt`)."""
    client, state, target = app.client, app.state, command.target
    if command.action in ("retry", "cancel"):
        job_id = int(target)
        if command.action == "retry":
            job = await app.attempt(f"Could not retry job {job_id}", client.retry_job(job_id))
            done = f"Job {job_id} is back in the queue"
        else:
            job = await app.attempt(f"Could not cancel job {job_id}", client.cancel_job(job_id))
            done = f"Asked job {job_id} to stop" if job and job.cancel_requested else ""
            done = done or f"Cancelled job {job_id}"
        if job is not None:
            state.update_job(job)
            state.jobs_stale = True
            app.paint()
            app.notify(f"{done} ({job.handler}): {job.state.value}.")
    elif command.action == "run":
        job = await app.attempt(f"Could not run schedule {target}", client.run_schedule(target))
        if job is not None:
            state.jobs_stale = True
            app.notify(f"Schedule {target} queued job {job.id} ({job.handler}): {job.state.value}.")
    elif command.action in ("enable", "disable"):
        call = client.enable_schedule if command.action == "enable" else client.disable_schedule
        schedule = await app.attempt(f"Could not {command.action} schedule {target}", call(target))
        if schedule is not None:
            state.update_schedule(schedule)
            app.paint()
            after = f"; next run {fmt.stamp(schedule.next_run_at)}" if schedule.enabled else ""
            app.notify(f"Schedule {target} {command.action}d{after}.")
    else:
        model_id = int(target)
        strategy = await app.attempt(
            f"Could not deploy model {model_id}", client.deploy_model(model_id)
        )
        if strategy is not None:
            state.update_strategy(strategy)
            app.paint()
            if isinstance(app.screen, JobsScreen):
                app.screen.reload_models()
            app.notify(
                f"Model {model_id} deployed to strategy {strategy.id} on {strategy.account_id}: "
                f"{strategy.params}."
            )
