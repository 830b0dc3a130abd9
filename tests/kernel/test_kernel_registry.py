"""How the server's kernel registry turns a kernel's event stream into subscriber streams:
holes in ``seq`` become gap markers, repeats are dropped, a job's end fills in its tail, and a
relayed gap counts for the events it stands for, even for a subscriber that is itself full."""

from __future__ import annotations

from typing import Any

from routilux.monitoring.event_manager import JobEventManager
from routilux.service import LocalOwner, OwnerInfo, RoutiluxService
from routilux_jupyter.server.kernel_owner import KernelOwner
from routilux_jupyter.server.kernel_registry import KernelConnection, KernelRegistry


def event(seq: int, kind: str = "event_emit", job_id: str = "j1") -> dict[str, Any]:
    return {"type": "event", "job_id": job_id, "flow_id": "f", "seq": seq, "event_type": kind}


def setup() -> tuple[KernelRegistry, KernelConnection, JobEventManager]:
    from routilux.monitoring import MonitoringRegistry

    events = JobEventManager()
    service = RoutiluxService([LocalOwner(MonitoringRegistry(event_manager=events))],
                              events=events)
    registry = KernelRegistry(service, events=events)
    owner = KernelOwner(OwnerInfo("kernel", "k1"), lambda text: None, instance_id="i1")
    conn = KernelConnection(None, owner, "k1", "i1", 1, 0.0)  # type: ignore[arg-type]
    return registry, conn, events


def accounted(items: list[dict[str, Any]]) -> tuple[int, int]:
    got = sum(1 for i in items if i.get("type") == "event")
    lost = sum(i["dropped"] for i in items if i.get("type") == "gap")
    return got, lost


def test_seq_holes_become_gap_markers_and_repeats_are_dropped() -> None:
    registry, conn, events = setup()
    sub = events.subscribe_flow("f", max_queue=100)
    registry.message(conn, {"type": "events", "events": [event(1), event(2), event(5),
                                                         event(5), event(4), event(6)]})
    items = sub.drain()
    assert [i.get("seq", "gap") for i in items] == [1, 2, "gap", 5, 6]
    assert items[2]["dropped"] == 2
    # The end record fills the tail from the kernel's trace and marks what even that lacks.
    registry.message(conn, {
        "type": "job", "ended": True,
        "job": {"job_id": "j1", "flow_id": "f", "status": "completed"},
        "metrics": {"total_events": 12},
        "trace": [event(9), event(10, "job_completed")],
    })
    items = sub.drain()
    assert [i.get("seq", "gap") for i in items] == ["gap", 9, 10, "gap"]
    assert accounted(items) == (2, 4)
    assert registry.tracks["j1"].status == "completed"


def test_a_relayed_gap_counts_its_events_for_a_full_subscriber() -> None:
    registry, conn, events = setup()
    sub = events.subscribe_flow("f", max_queue=3)
    batch = [event(s) for s in range(1, 6)] + [event(1006)]  # 1000 lost upstream before 1006
    registry.message(conn, {"type": "events", "events": batch})
    items = sub.drain()
    got, lost = accounted(items)
    # 3 fit, 2 + 1 (the last) did not fit here, 1000 were lost upstream: all accounted for.
    assert got + lost == 1006 and got == 3
