"""Run activations as tasks on Dask distributed workers (``pip install routilux[dask]``).

Each routine instance is shipped to the workers once (``client.scatter(..., broadcast=True)``, by
value: notebook-defined classes travel with cloudpickle), and each activation is one task that
gets a reference to it plus its payload and a copy of the job's shared data. The task returns
what the handler did (:class:`~routilux.executors.base.ActivationResult`) and the job's runtime
applies it here: emits are delivered, traced and counted by this process, so monitoring, the API
and the widgets see a Dask run exactly as a local one.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from typing import TYPE_CHECKING, Any, Callable

from routilux.errors import RoutiluxError, ValidationError
from routilux.executors.base import ActivationResult, Executor
from routilux.executors.remote import run_activation
from routilux.pool import get_pool

if TYPE_CHECKING:
    from routilux.activation import Activation
    from routilux.runtime import JobRuntime

__all__ = ["DaskExecutor", "WorkerLostError"]

_submit = get_pool().submit


class WorkerLostError(RoutiluxError, RuntimeError):
    """The Dask worker running an activation died (after Dask's own retries on other workers)."""


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as e:  # pragma: no cover - the test extras install it
        raise RoutiluxError(
            "DaskExecutor needs Dask distributed: pip install 'routilux[dask]'"
        ) from e
    return distributed


class DaskExecutor(Executor):
    """Handlers run on Dask workers; ``client`` is a ``distributed.Client``, a scheduler address,
    or ``None`` (the current default client if there is one, else a new ``LocalCluster``).

    ``**client_kwargs`` go to ``distributed.Client`` when this executor creates the client (for
    example ``n_workers=2, processes=True``); :meth:`close` then shuts that client down.
    """

    name = "dask"
    remote = True

    def __init__(self, client: Any = None, **client_kwargs: Any) -> None:
        distributed = _import_distributed()
        self._owns_client = False
        if client is not None and not isinstance(client, (str, distributed.Client)):
            raise ValidationError(
                f"DaskExecutor(client=...) takes a distributed.Client, a scheduler address "
                f"('tcp://host:8786') or None, got {type(client).__name__}",
                detail={"field": "client"},
            )
        if client is None or isinstance(client, str):
            if client is None and not client_kwargs:
                try:
                    client = distributed.get_client()
                except ValueError:
                    client = None
            if client is None or isinstance(client, str):
                try:
                    client = distributed.Client(client, **client_kwargs) if client \
                        else distributed.Client(**client_kwargs)
                except (OSError, ValueError, TimeoutError) as e:
                    where = client or "a new LocalCluster"
                    raise RoutiluxError(
                        f"DaskExecutor could not connect to {where}: {e}. Check that the "
                        "scheduler runs and its address is right (tcp://host:8786)"
                    ) from e
                self._owns_client = True
        self.client = client
        self._lock = threading.Lock()
        self._ship_lock = threading.Lock()
        # One scattered copy per routine instance (keyed by id, dropped with the routine).
        self._shipped: dict[int, tuple[weakref.ref[Any], Any]] = {}
        # Finished futures waiting for their results to be fetched (see _collect).
        self._finished: list[tuple[Any, Callable[[ActivationResult], None], str]] = []
        self._collecting = False

    # ----------------------------------------------------------------- facts for views
    @property
    def dashboard_link(self) -> str | None:
        """The Dask dashboard's URL, when the scheduler serves one."""
        try:
            return self.client.dashboard_link
        except Exception:
            return None

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"name": self.name, "dashboard_link": self.dashboard_link}
        try:
            info["scheduler"] = self.client.scheduler.address
        except Exception:
            info["scheduler"] = None
        return info

    # ----------------------------------------------------------------- shipping routines
    def _routine_future(self, routine: Any) -> Any:
        key = id(routine)
        with self._ship_lock:   # two first dispatches of one routine must not ship it twice
            with self._lock:
                entry = self._shipped.get(key)
                if entry is not None and entry[0]() is routine:
                    return entry[1]
            fut = self.client.scatter(routine, broadcast=True, hash=False)
            with self._lock:
                self._shipped[key] = (weakref.ref(routine, self._forget(key)), fut)
            return fut

    def _forget(self, key: int) -> Callable[[Any], None]:
        def drop(_: Any) -> None:
            with self._lock:
                self._shipped.pop(key, None)
        return drop

    def refresh(self) -> None:
        """Ship routines again on next use (after changing a routine's config or code)."""
        with self._lock:
            self._shipped.clear()

    # ----------------------------------------------------------------- the seam
    def submit(self, runtime: JobRuntime, activation: Activation, shared: dict[str, Any],
               done: Callable[[ActivationResult], None]) -> Any:
        routine_ref = self._routine_future(activation.routine)
        js = runtime.job_state
        fut = self.client.submit(
            run_activation, routine_ref, activation.routine_id, activation.slot.name,
            activation.data, shared, js.job_id, js.flow_id,
            key=f"routilux-{activation.routine_id}-{uuid.uuid4().hex}", pure=False,
        )
        label = f"{activation.routine_id}.{activation.slot.name}"

        def finished(f: Any) -> None:
            # On Dask's callback thread: only queue it. Results are fetched in batches (one
            # round trip to the client's loop per batch, not per task) on one of our threads.
            with self._lock:
                self._finished.append((f, done, label))
                start = not self._collecting
                self._collecting = True
            if start:
                _submit(self._collect)

        fut.add_done_callback(finished)
        return fut

    def _collect(self) -> None:
        while True:
            with self._lock:
                batch, self._finished = self._finished, []
                if not batch:
                    self._collecting = False
                    return
            ready = [f for f, _, _ in batch if f.status == "finished"]
            values: dict[str, Any] = {}
            if ready:
                try:
                    values = dict(zip([f.key for f in ready], self.client.gather(ready)))
                except Exception:   # one result failed to arrive: fetch them one by one below
                    values = {}
            for fut, done, label in batch:
                result = values.get(fut.key)
                if not isinstance(result, ActivationResult):
                    result = self._result_of(fut, label)
                try:
                    done(result)
                except Exception:   # the runtime logs its own errors; never stop collecting
                    pass

    def _result_of(self, fut: Any, label: str) -> ActivationResult:
        status = fut.status
        if status == "finished":
            try:
                return fut.result()
            except Exception as e:   # could not unpickle the result
                return ActivationResult(error=e)
        if status == "cancelled":
            return ActivationResult(error=RoutiluxError(f"{label}: its Dask task was cancelled"))
        try:
            exc = fut.exception()
        except Exception as e:   # noqa: BLE001
            exc = e
        if type(exc).__name__ == "KilledWorker":
            return ActivationResult(error=WorkerLostError(
                f"{label}: the Dask worker running it died and Dask's retries on other workers "
                f"failed too ({exc}); give the workers more memory, or set a RETRY error handler "
                "to try again later"))
        return ActivationResult(error=exc if isinstance(exc, BaseException) else
                                RoutiluxError(f"{label}: Dask task failed: {exc!r}"))

    def cancel(self, handles: list[Any]) -> None:
        if handles:
            try:
                self.client.cancel(handles)
            except Exception:   # the client is closing: nothing left to cancel
                pass

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    def __repr__(self) -> str:
        return f"DaskExecutor({self.describe().get('scheduler')!r})"
