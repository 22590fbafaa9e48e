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
