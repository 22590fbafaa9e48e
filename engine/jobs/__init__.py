"""Durable background jobs: the queue (`JobService`), handlers and schedules."""

from __future__ import annotations

from engine.jobs.context import JobCancelled, JobContext, PermanentFailure
from engine.jobs.registry import Handler, HandlerInfo, HandlerRegistry, NoArgs
from engine.jobs.schedules import ScheduleNotFound, ScheduleService
from engine.jobs.service import JobNotFound, JobService

__all__ = [
    "Handler",
    "HandlerInfo",
    "HandlerRegistry",
    "JobCancelled",
    "JobContext",
    "JobNotFound",
    "JobService",
    "NoArgs",
    "PermanentFailure",
    "ScheduleNotFound",
    "ScheduleService",
]
