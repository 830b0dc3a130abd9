"""Which flow a finished job belongs to.

A running ``JobState`` reaches its flow through its runtime; a finished one drops that link (so
the runtime can be collected) and keeps only ``flow_id``. The views therefore remember, weakly,
every flow created after this module loads (``routilux.add_flow_listener``), newest per id.
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
    """The flow of ``job``: through its runtime while it runs, else the newest flow of its id."""
    runtime = getattr(job, "_runtime", None)
    flow = getattr(runtime, "flow", None)
    if flow is not None:
        return flow  # type: ignore[no-any-return]
    with _lock:
        return _flows.get(job.flow_id)  # type: ignore[no-any-return]
