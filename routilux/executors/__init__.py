"""Execution backends: where a job's handlers run.

``ThreadExecutor`` (the default) runs them on the job's worker threads, and ``async def``
handlers on one shared event-loop thread. ``DaskExecutor`` runs them on Dask distributed workers
(``pip install routilux[dask]``; imported only when used). Pick one per flow,
``Flow(..., executor=...)``, or per job, ``flow.start(..., executor=...)``.
"""

from __future__ import annotations

from typing import Any

from routilux.executors.base import ActivationResult, Executor, ThreadExecutor, resolve_executor

__all__ = ["ActivationResult", "DaskExecutor", "Executor", "ThreadExecutor", "WorkerLostError",
           "resolve_executor"]


def __getattr__(name: str) -> Any:
    # Dask loads only when asked for, so `import routilux` stays light.
    if name in ("DaskExecutor", "WorkerLostError"):
        from routilux.executors import dask as _dask

        return getattr(_dask, name)
    raise AttributeError(f"module 'routilux.executors' has no attribute {name!r}")
