"""Which flow a job belongs to.

A ``JobState`` knows its flow (``job.flow``, held weakly, also after the job ended). A job read
from a file with ``JobState.load`` has none until it is resumed; for those the views fall back to
the newest flow of the job's ``flow_id``, remembered weakly from every flow created after this
module loads (``routilux.add_flow_listener``).
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from routilux.flow import Flow
    from routilux.job_state import JobState

__all__ = ["find_flow", "remember_flows"]

_flows: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()
_lock = threading.Lock()
_listening = False


def _remember(flow: Flow) -> None:
    with _lock:
        _flows[flow.flow_id] = flow


def remember_flows() -> None:
    """Start remembering new flows (idempotent; the listener lives as long as the process)."""
    global _listening
    with _lock:
        if _listening:
            return
        _listening = True
    from routilux import add_flow_listener

    add_flow_listener(_remember)


def find_flow(job: JobState) -> Flow | None:
    """The flow of ``job`` (``job.flow``), else the newest live flow of its ``flow_id``."""
    flow = job.flow
    if flow is not None:
        return flow
    with _lock:
        return _flows.get(job.flow_id)  # type: ignore[no-any-return]
