"""Every flow built in this kernel, and every job it runs, registered in one ``LocalOwner``.

After ``%load_ext routilux`` a flow registers when it is constructed (``add_flow_listener``; a
re-run cell that builds a flow with the same id replaces the old one), and a job registers when it
starts, wherever it was started from (a cell's ``flow.start()``/``execute()`` or the API). Jobs are
seen through the monitoring registry's history-store seam: ``MonitoringHooks.on_job_start`` calls
``history_store.record_job`` on the starting thread, which is exactly the moment to adopt the job.
The :class:`JobRelay` installed there forwards every call to whatever store was attached before, so
a user's own history store keeps working.

The agent (if any) is told about changes through a :class:`RegistrationSink`; without an agent the
registrations still serve the ``%routilux`` magics.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable, Protocol

from routilux.flow import Flow, add_flow_listener
from routilux.service.local_owner import LocalOwner
from routilux.service.owner import OwnerInfo
from routilux.service.requests import FlowCreate

if TYPE_CHECKING:
    from routilux.job_state import JobState

__all__ = ["JobRelay", "KernelLocalOwner", "KernelRegistration", "RegistrationSink"]

_TERMINAL = frozenset({"completed", "failed", "cancelled", "lost"})


class RegistrationSink(Protocol):
    """What the registration tells the agent (called on engine and shell threads: be quick)."""

    def flows_changed(self) -> None: ...
    def job_recorded(self, job: dict[str, Any], ended: bool) -> None: ...
    def job_forgotten(self, job_id: str) -> None: ...


class KernelLocalOwner(LocalOwner):
    """A ``LocalOwner`` over the kernel's flows and jobs that also adopts jobs started in cells."""

    def __init__(self, monitoring: Any, *, info: OwnerInfo, max_finished_jobs: int = 1000) -> None:
        super().__init__(monitoring, info=info, max_finished_jobs=max_finished_jobs)
        self.sink: RegistrationSink | None = None
        self._building = threading.local()

    @property
    def building(self) -> bool:
        """True while this thread builds a flow for ``create_flow`` (the listener skips it)."""
        return bool(getattr(self._building, "active", False))

    def create_flow(self, request: FlowCreate) -> dict[str, Any]:
        # The flow listener would register the half-built flow first and make LocalOwner's own
        # add_flow fail with "already exists"; let LocalOwner register it, then tell the agent.
        self._building.active = True
        try:
            result = super().create_flow(request)
        finally:
            self._building.active = False
        self._flows_changed()
        return result

    def delete_flow(self, flow_id: str) -> None:
        super().delete_flow(flow_id)
        self._flows_changed()

    def _flow_of(self, job: JobState) -> Flow:
        # A re-run cell replaces the registered flow, but a job keeps running on the flow object
        # that started it: control must go to that one.
        runtime = job.runtime
        if runtime is not None:
            return runtime.flow
        return super()._flow_of(job)

    def adopt_job(self, job: JobState) -> bool:
        """Register a job started outside the API (a notebook cell); ``False`` if known already."""
        with self._lock:
            if job.job_id in self.jobs:
                return False
            self.jobs.add(job)
        job.add_done_callback(self._job_ended)
        return True

    def forget_job(self, job_id: str) -> None:
        super().forget_job(job_id)
        sink = self.sink
        if sink is not None:
            sink.job_forgotten(job_id)

    def _flows_changed(self) -> None:
        sink = self.sink
        if sink is not None:
            sink.flows_changed()


class JobRelay:
    """Duck-typed history store: adopts starting jobs and passes job records to the agent.

    Only ``record_job`` matters here (start and end of a job, on the engine's thread); metrics and
    traces are read from the collector by the agent when it sends a job's end. Every call is also
    forwarded to ``previous`` (the store attached before, if any).
    """

    def __init__(self, owner: KernelLocalOwner, collector: Any, previous: Any = None) -> None:
        self.owner = owner
        self.collector = collector
        self.previous = previous

    def record_job(self, job: dict[str, Any] | Callable[[], dict[str, Any]]) -> None:
        if self.previous is not None:
            self.previous.record_job(job)
        record = job() if callable(job) else dict(job)
        job_id = record.get("job_id")
        if not isinstance(job_id, str):
            return
        ended = str(record.get("status")) in _TERMINAL
        if not ended and job_id not in self.owner.jobs:
            live = self.collector.job_state(job_id)
            if live is not None:
                self.owner.adopt_job(live)
        sink = self.owner.sink
        if sink is not None:
            sink.job_recorded(record, ended)

    def record_metrics(self, job_id: str, metrics: Any) -> None:
        if self.previous is not None:
            self.previous.record_metrics(job_id, metrics)

    def record_events(self, job_id: str, events: Any) -> None:
        if self.previous is not None:
            self.previous.record_events(job_id, events)

    def __getattr__(self, name: str) -> Any:
        # flush(), close(), get_job(), ... of a previous store stay reachable through the relay.
        previous = self.__dict__.get("previous")
        if previous is None:
            raise AttributeError(name)
        return getattr(previous, name)


class KernelRegistration:
    """Installs the flow listener and the job relay; owns the kernel's :class:`KernelLocalOwner`."""

    def __init__(self, monitoring: Any, info: OwnerInfo) -> None:
        self.monitoring = monitoring
        self.owner = KernelLocalOwner(monitoring, info=info)
        self._undo_listener: Callable[[], None] | None = None
        self._relay: JobRelay | None = None

    @property
    def installed(self) -> bool:
        return self._undo_listener is not None

    def install(self) -> None:
        """Start registering flows and jobs (idempotent)."""
        if self._undo_listener is not None:
            return
        self._undo_listener = add_flow_listener(self._on_flow)
        previous = self.monitoring.history_store
        self._relay = JobRelay(self.owner, self.monitoring.monitor_collector, previous)
        self.monitoring.attach_history_store(self._relay)

    def uninstall(self) -> None:
        """Stop registering; flows and jobs registered so far stay in the owner."""
        undo, self._undo_listener = self._undo_listener, None
        if undo is not None:
            undo()
        relay, self._relay = self._relay, None
        if relay is not None and self.monitoring.history_store is relay:
            self.monitoring.attach_history_store(relay.previous)

    def _on_flow(self, flow: Flow) -> None:
        if self.owner.building:
            return
        self.owner.add_flow(flow, replace=True)
        self.owner._flows_changed()
