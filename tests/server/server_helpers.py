"""Waiting helpers for the server tests: block on engine conditions, never sleep-and-poll."""

from __future__ import annotations

import asyncio

import api_routines

from routilux.monitoring import MonitoringRegistry
from routilux.service import RoutiluxService

__all__ = ["wait_gate_entered", "wait_job_done", "wait_paused"]


async def wait_job_done(service: RoutiluxService, job_id: str, timeout: float = 5.0) -> None:
    job = service.default_owner.jobs.get(job_id)
    assert job is not None, job_id
    assert await asyncio.to_thread(job.wait, timeout), f"job {job_id} did not finish"


async def wait_paused(job_id: str, timeout: float = 5.0) -> None:
    session = MonitoringRegistry.get_instance().debug_session_store.get_or_create(job_id)
    assert await asyncio.to_thread(session.wait_until_paused, timeout), f"{job_id} never paused"


async def wait_gate_entered(name: str, timeout: float = 5.0) -> None:
    assert await asyncio.to_thread(api_routines.ENTERED[name].wait, timeout), f"gate {name}"
