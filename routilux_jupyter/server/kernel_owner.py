"""``KernelOwner``: the :class:`~routilux.service.owner.Owner` of a kernel's flows and jobs.

Each method becomes an :class:`~routilux_jupyter.protocol.OwnerRequest` sent over the kernel's
bridge WebSocket, and waits (on the service's worker thread, never on the event loop) for the
matching :class:`~routilux_jupyter.protocol.OwnerReply`. Errors raised in the kernel come back as
the same routilux error classes. A kernel that is gone answers ``OwnerUnavailableError`` (503); a
kernel that does not answer in time ``OwnerTimeoutError`` (504).

``has_flow`` and ``has_job`` are answered from what the kernel announced (hello, flow-id updates,
job records), so routing a request never costs a round trip to every kernel. Listings fall back
to what is known when the kernel cannot answer, so ``GET /api/flows`` keeps working.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Callable

import routilux.errors as errors
from routilux.errors import OwnerTimeoutError, OwnerUnavailableError, RoutiluxError
from routilux.service.owner import OwnerInfo
from routilux.service.timetravel import JobPatch, JobRerun
from routilux.service.requests import (
    BreakpointPatch,
    BreakpointSpec,
    FlowCreate,
    JobStart,
    VariableEdit,
)

__all__ = ["KernelOwner"]

_ids = itertools.count(1)


def _remote_error(error: dict[str, Any] | None) -> Exception:
    """The exception an OwnerReply's ``error`` stands for (same routilux class when known)."""
    error = error or {}
    message = str(error.get("message") or "The kernel reported an error without a message.")
    cls = getattr(errors, str(error.get("error_class") or ""), None)
    if isinstance(cls, type) and issubclass(cls, RoutiluxError):
        return cls(message, detail=error.get("detail"))
    # Not a routilux error: a 500 whose details stay in the logs, as for the server's own flows.
    return RuntimeError(f"Error in the kernel: {message}")


class KernelOwner:
    """Flows and jobs of one connected kernel process (see the module docstring).

    ``send`` must be thread-safe (it hands the text to the event loop). ``loop_thread`` is the
    event loop's thread ident: a blocking request from there would deadlock, so it is refused.
    """

    def __init__(
        self,
        info: OwnerInfo,
        send: Callable[[str], None],
        *,
        instance_id: str,
        timeout: float = 10.0,
        loop_thread: int | None = None,
    ) -> None:
        self._info = info
        self._send = send
        self.instance_id = instance_id
        self.timeout = timeout
        self._loop_thread = loop_thread
        self._lock = threading.Lock()
        self._pending: dict[str, Future[Any]] = {}
        self._flow_ids: frozenset[str] = frozenset()
        self._job_ids: set[str] = set()
        self._flow_cache: dict[str, dict[str, Any]] = {}
        self.available = True
        self.unavailable_reason = ""

    @property
    def info(self) -> OwnerInfo:
        return self._info

    def __repr__(self) -> str:
        state = "connected" if self.available else "unavailable"
        return f"KernelOwner(kernel_id={self._info.kernel_id!r}, {state})"

    # -- what the kernel announced (event loop thread) -----------------------------------------

    def set_flow_ids(self, flow_ids: list[str]) -> None:
        with self._lock:
            self._flow_ids = frozenset(flow_ids)

    def add_job_ids(self, job_ids: list[str]) -> None:
        with self._lock:
            self._job_ids.update(job_ids)

    def forget_job(self, job_id: str) -> None:
        with self._lock:
            self._job_ids.discard(job_id)

    def job_ids(self) -> set[str]:
        with self._lock:
            return set(self._job_ids)

    def deliver(self, reply: dict[str, Any]) -> None:
        """Resolve the request this reply answers (unknown ids: it came after the timeout)."""
        with self._lock:
            future = self._pending.pop(str(reply.get("request_id")), None)
        if future is None or future.done():
            return
        if reply.get("ok"):
            future.set_result(reply.get("result"))
        else:
            future.set_exception(_remote_error(reply.get("error")))

    def disconnect(self, reason: str) -> None:
        """The kernel is gone: fail waiting requests now, answer 503 from here on."""
        self.unavailable_reason = reason
        self.available = False
        with self._lock:
            pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(self._unavailable())

    def _unavailable(self) -> OwnerUnavailableError:
        info = self._info
        where = f" ({info.notebook_path})" if info.notebook_path else ""
        return OwnerUnavailableError(
            f"Kernel {info.kernel_id}{where} is not connected to routilux: "
            f"{self.unavailable_reason or 'it went away'}. Restart it or run `%load_ext routilux` "
            "there again; its finished jobs stay readable from the history.",
            detail={"kernel_id": info.kernel_id, "notebook_path": info.notebook_path},
        )

    # -- request / reply (service worker threads) -----------------------------------------------

    def request(self, op: str, args: dict[str, Any] | None = None,
                timeout: float | None = None) -> Any:
        """Call ``op`` in the kernel and return its JSON result (raising its error)."""
        if not self.available:
            raise self._unavailable()
        if self._loop_thread is not None and threading.get_ident() == self._loop_thread:
            raise OwnerUnavailableError(
                "A kernel request was made on the server's event loop, where its answer could "
                "never arrive; call the service from a worker thread.",
                detail={"kernel_id": self._info.kernel_id, "op": op},
            )
        request_id = f"{next(_ids)}"
        future: Future[Any] = Future()
        with self._lock:
            self._pending[request_id] = future
        text = json.dumps({"type": "request", "request_id": request_id, "op": op,
                           "args": args or {}}, default=str)
        try:
            self._send(text)
        except Exception:
            with self._lock:
                self._pending.pop(request_id, None)
            raise self._unavailable() from None
        wait = self.timeout if timeout is None else timeout
        try:
            return future.result(wait)
        except FutureTimeout:
            with self._lock:
                self._pending.pop(request_id, None)
            raise OwnerTimeoutError(
                f"Kernel {self._info.kernel_id} did not answer {op!r} within {wait:g} s; it may be "
                "overloaded (the request was not retried). Try again, or check the kernel.",
                detail={"kernel_id": self._info.kernel_id, "op": op, "timeout": wait},
            ) from None

    def _stamp(self, item: dict[str, Any]) -> dict[str, Any]:
        # The server knows the notebook path better (from its sessions) than the kernel does.
        item["owner"] = self._info.to_dict()
        return item

    # -- flows ------------------------------------------------------------------------------------

    def list_flows(self) -> list[dict[str, Any]]:
        try:
            flows = [self._stamp(f) for f in self.request("list_flows")]
        except OwnerUnavailableError:  # includes timeouts: list what was known, marked stale
            ids = sorted(self._flow_ids)
            return [
                {**self._flow_cache.get(i, {"flow_id": i, "routines": {}, "connections": []}),
                 "owner": self._info.to_dict(), "available": False}
                for i in ids
            ]
        self._flow_cache = {f["flow_id"]: f for f in flows}
        # A listing is a fresh snapshot: routing must know every flow it shows (the kernel's
        # flow-id message may still be on its way behind this reply).
        with self._lock:
            self._flow_ids = self._flow_ids | self._flow_cache.keys()
        return flows

    def has_flow(self, flow_id: str) -> bool:
        return flow_id in self._flow_ids

    def get_flow(self, flow_id: str) -> dict[str, Any]:
        return self._stamp(self.request("get_flow", {"flow_id": flow_id}))

    def create_flow(self, request: FlowCreate) -> dict[str, Any]:
        flow = self._stamp(self.request("create_flow", {"request": dataclasses.asdict(request)}))
        with self._lock:
            self._flow_ids = self._flow_ids | {flow["flow_id"]}
        return flow

    def delete_flow(self, flow_id: str) -> None:
        self.request("delete_flow", {"flow_id": flow_id})
        with self._lock:
            self._flow_ids = self._flow_ids - {flow_id}

    # -- jobs -------------------------------------------------------------------------------------

    def list_jobs(self, flow_id: str | None, status: str | None) -> list[dict[str, Any]]:
        try:
            jobs = self.request("list_jobs", {"flow_id": flow_id, "status": status})
        except OwnerUnavailableError:
            return []  # the history has their last known records
        self.add_job_ids([j["job_id"] for j in jobs])
        return [self._stamp(j) for j in jobs]

    def has_job(self, job_id: str) -> bool:
        # A gone kernel holds nothing: its jobs are answered from the history (status lost).
        if not self.available:
            return False
        with self._lock:
            return job_id in self._job_ids

    def get_job(self, job_id: str) -> dict[str, Any]:
        return self._stamp(self.request("get_job", {"job_id": job_id}))

    def start_job(self, request: JobStart) -> dict[str, Any]:
        job = self._stamp(self.request("start_job", {"request": dataclasses.asdict(request)}))
        self.add_job_ids([job["job_id"]])
        return job

    def control_job(self, job_id: str, action: str) -> dict[str, Any]:
        return self.request("control_job", {"job_id": job_id, "action": action})

    def get_metrics(self, job_id: str) -> dict[str, Any]:
        return self.request("get_metrics", {"job_id": job_id})

    def get_trace(self, job_id: str, limit: int | None) -> dict[str, Any]:
        return self.request("get_trace", {"job_id": job_id, "limit": limit})

    # -- breakpoints --------------------------------------------------------------------------

    def list_breakpoints(self, job_id: str) -> dict[str, Any]:
        return self.request("list_breakpoints", {"job_id": job_id})

    def add_breakpoint(self, job_id: str, spec: BreakpointSpec) -> dict[str, Any]:
        return self.request("add_breakpoint",
                            {"job_id": job_id, "spec": dataclasses.asdict(spec)})

    def update_breakpoint(
        self, job_id: str, breakpoint_id: str, patch: BreakpointPatch
    ) -> dict[str, Any]:
        return self.request("update_breakpoint", {
            "job_id": job_id, "breakpoint_id": breakpoint_id,
            "patch": dataclasses.asdict(patch),
        })

    def remove_breakpoint(self, job_id: str, breakpoint_id: str) -> None:
        self.request("remove_breakpoint", {"job_id": job_id, "breakpoint_id": breakpoint_id})

    # -- debugging ----------------------------------------------------------------------------

    def debug_session(self, job_id: str) -> dict[str, Any]:
        return self.request("debug_session", {"job_id": job_id})

    def debug_step(self, job_id: str, step: str) -> dict[str, Any]:
        return self.request("debug_step", {"job_id": job_id, "step": step})

    def get_variables(self, job_id: str) -> dict[str, Any]:
        return self.request("get_variables", {"job_id": job_id})

    def set_variable(self, job_id: str, edit: VariableEdit) -> dict[str, Any]:
        return self.request("set_variable", {"job_id": job_id, "edit": dataclasses.asdict(edit)})

    def get_call_stack(self, job_id: str) -> dict[str, Any]:
        return self.request("get_call_stack", {"job_id": job_id})

    # -- time travel ----------------------------------------------------------------------------

    def rerun_job(self, job_id: str, rerun: JobRerun) -> dict[str, Any]:
        job = self._stamp(self.request("rerun_job", {"job_id": job_id,
                                                     "rerun": dataclasses.asdict(rerun)}))
        self.add_job_ids([job["job_id"]])
        return job

    def replay_job(self, job_id: str) -> dict[str, Any]:
        job = self._stamp(self.request("replay_job", {"job_id": job_id}))
        self.add_job_ids([job["job_id"]])
        return job

    def annotate_job(self, job_id: str, patch: JobPatch) -> dict[str, Any]:
        return self._stamp(self.request("annotate_job", {"job_id": job_id,
                                                         "job_patch": dataclasses.asdict(patch)}))

    def get_run(self, job_id: str) -> dict[str, Any]:
        return self.request("get_run", {"job_id": job_id})
