"""Traces and metrics as pandas DataFrames, and the trace as CSV."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

pd = pytest.importorskip("pandas")

from routilux import Flow  # noqa: E402
from routilux.errors import NotFoundError  # noqa: E402
from routilux.monitoring import MonitoringRegistry  # noqa: E402
from routilux.monitoring.frames import METRICS_COLUMNS, TRACE_COLUMNS, trace_csv  # noqa: E402

from .helpers import Counter, pipeline  # noqa: E402


def _dtypes(frame: pd.DataFrame) -> dict[str, str]:
    return {name: str(dtype) for name, dtype in frame.dtypes.items()}


def test_trace_frame_of_a_10000_event_job_has_one_typed_row_per_event(
    registry: MonitoringRegistry,
) -> None:
    registry.monitor_collector.set_max_events_per_job(10_000)   # the frame holds what the ring holds
    flow = Flow("frames-big")
    flow.add_routine(Counter(), "c")
    # job_start, slot_call, routine_start, 9,995 emits, routine_complete, job_completed
    job = flow.execute("c", {"count": 9_995}, timeout=60)
    assert str(job.status) == "completed"

    frame = job.trace_frame()
    assert len(frame) == 10_000
    assert list(frame.columns) == list(TRACE_COLUMNS)
    assert _dtypes(frame) == {name: dtype for name, dtype in TRACE_COLUMNS.items()}
    assert frame["seq"].tolist() == list(range(1, 10_001))
    assert frame["timestamp"].is_monotonic_increasing
    assert (frame["event_type"] == "event_emit").sum() == 9_995
    assert frame["event_type"].iloc[0] == "job_start"
    assert frame["event_type"].iloc[-1] == "job_completed"
    complete = frame[frame["event_type"] == "routine_complete"].iloc[0]
    assert complete["duration"] > 0.0
    assert frame["data"].iloc[3] == {"i": 0}
    assert job.trace_frame(limit=10)["seq"].tolist() == list(range(9_991, 10_001))


def test_trace_frame_carries_causes_errors_and_missing_values_as_nulls(
    registry: MonitoringRegistry,
) -> None:
    flow, _ = pipeline("frames-fail")
    job = flow.execute("r1", {"values": [None]}, timeout=10)   # r2 fails on None * 2
    frame = job.trace_frame()

    starts = frame[frame["event_type"] == "routine_start"].set_index("routine_id")
    assert pd.isna(starts.loc["r1", "source_activation_id"])
    assert starts.loc["r2", "source_activation_id"] == starts.loc["r1", "activation_id"]
    (error,) = frame.loc[frame["event_type"] == "routine_error", "error"]
    assert error.startswith("TypeError")
    job_start = frame.iloc[0]
    assert pd.isna(job_start["routine_id"]) and pd.isna(job_start["duration"])
    assert pd.isna(job_start["activation_id"])


def test_metrics_frame_has_one_row_per_routine(registry: MonitoringRegistry) -> None:
    flow, _ = pipeline("frames-metrics")
    job = flow.execute("r1", {"values": [1, 2]}, timeout=10)

    frame = job.metrics_frame()
    assert list(frame.columns) == list(METRICS_COLUMNS)
    assert _dtypes(frame) == dict(METRICS_COLUMNS)
    counts = dict(zip(frame["routine_id"], frame["execution_count"]))
    assert counts == {"r1": 1, "r2": 2, "r3": 2}
    assert (frame["total_duration"] >= frame["max_duration"]).all()
    assert frame.attrs["job"]["status"] == "completed"
    assert frame.attrs["job"]["total_routines"] == 3


def test_metrics_frame_lists_routines_that_never_ran_as_pending(registry: MonitoringRegistry) -> None:
    flow, _ = pipeline("frames-idle")
    job = flow.execute("r1", {"values": []}, timeout=10)   # r1 emits nothing

    frame = job.metrics_frame().set_index("routine_id")
    assert frame["execution_count"].to_dict() == {"r1": 1, "r2": 0, "r3": 0}
    assert frame.loc["r2", "status"] == "pending"
    assert pd.isna(frame.loc["r2", "max_duration"]) and pd.isna(frame.loc["r2", "last_execution"])


def test_a_job_run_without_monitoring_says_how_to_get_a_trace() -> None:
    flow, _ = pipeline("frames-unmonitored")
    job = flow.execute("r1", {"values": [1]}, timeout=10)
    with pytest.raises(NotFoundError, match="MonitoringRegistry.enable"):
        job.trace_frame()


def test_trace_csv_has_the_frame_columns_and_reads_back_with_pandas(
    registry: MonitoringRegistry,
) -> None:
    flow, _ = pipeline("frames-csv")
    job = flow.execute("r1", {"values": [1]}, timeout=10)
    events = [e.to_dict() for e in registry.monitor_collector.get_execution_trace(job.job_id)]

    back = pd.read_csv(io.StringIO(trace_csv(events)), parse_dates=["timestamp"])
    frame = job.trace_frame()
    assert list(back.columns) == list(frame.columns)
    assert len(back) == len(frame)
    assert back["seq"].tolist() == frame["seq"].tolist()
    assert back["event_type"].tolist() == frame["event_type"].tolist()
    assert (back["timestamp"] == frame["timestamp"]).all()


def test_frames_without_pandas_say_which_extra_to_install() -> None:
    code = (
        "import sys\n"
        "sys.modules['pandas'] = None   # as if pandas were not installed\n"
        "from routilux import Flow, RoutiluxError\n"
        "from routilux.monitoring import MonitoringRegistry\n"
        "MonitoringRegistry.enable()\n"
        "flow = Flow('f')\n"
        "from routilux import Routine\n"
        "class R(Routine):\n"
        "    def __init__(self):\n"
        "        super().__init__(); self.define_slot('trigger', lambda **kw: None)\n"
        "flow.add_routine(R(), 'r')\n"
        "job = flow.execute('r', {}, timeout=10)\n"
        "for method in (job.trace_frame, job.metrics_frame):\n"
        "    try:\n"
        "        method()\n"
        "    except ImportError as e:\n"
        "        assert isinstance(e, RoutiluxError)\n"
        "        print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 2 and all("pip install routilux[frames]" in line for line in lines)
