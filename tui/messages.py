"""Messages the panel's widgets send up to the app, which runs the command
against the engine client and reports the outcome."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from textual.message import Message

WorkerAction = Literal["start", "stop", "restart"]
FleetAction = Literal["start_all", "stop_all"]


@dataclass
class WorkerCommand(Message):
    """Start, stop or restart one account's worker."""

    action: WorkerAction
    account_id: str


@dataclass
class FleetCommand(Message):
    """Start or stop every worker (already confirmed by the trader)."""

    action: FleetAction


@dataclass
class AcknowledgeAlert(Message):
    alert_id: int


@dataclass
class OpenWorker(Message):
    """Show the detail screen for one account's worker."""

    account_id: str


@dataclass
class StrategyCommand(Message):
    """Pause or resume one strategy."""

    strategy_id: str
    pause: bool


@dataclass
class CancelOrder(Message):
    """Cancel one pending order."""

    account_id: str
    ticket: int


@dataclass
class ClosePosition(Message):
    """Close one position at market (already confirmed by the trader)."""

    account_id: str
    ticket: int


@dataclass
class FlattenAccount(Message):
    """Close every position of one account (already confirmed by the trader)."""

    account_id: str


JobAction = Literal["retry", "cancel", "run", "enable", "disable", "deploy"]


@dataclass
class JobCommand(Message):
    """A command on background work: retry or cancel a job (`target` is its id),
    run, enable or disable a schedule (its name), deploy a model (its id)."""

    action: JobAction
    target: str


@dataclass
class OpenJobs(Message):
    """Show the jobs screen, on one job when `job_id` is given."""

    job_id: int | None = None
