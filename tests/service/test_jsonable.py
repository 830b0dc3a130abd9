"""jsonable/iso: any value becomes bounded JSON, never an exception."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

from routilux.service.jsonable import MAX_ITEMS, MAX_REPR, iso, jsonable


class Hostile:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


@dataclass
class Point:
    x: int
    y: object


def test_anything_becomes_json_and_stays_bounded():
    cyclic: list = []
    cyclic.append(cyclic)
    value = {
        "big": list(range(MAX_ITEMS * 3)), "text": "x" * 100_000, "obj": object(),
        "hostile": Hostile(), "nan": float("nan"), 3: {1, 2}, "point": Point(1, Hostile()),
        "cyclic": cyclic, "bytes": b"\x00" * 10_000,
    }
    out = jsonable(value)
    text = json.dumps(out)  # must not raise
    assert len(out["big"]) == MAX_ITEMS + 1 and out["big"][-1].startswith("...")
    assert "repr failed" in out["hostile"]
    assert out["nan"] == "nan" and out["3"] == [1, 2]
    assert out["point"]["x"] == 1
    assert len(out["bytes"]) <= MAX_REPR
    assert len(text) < 300_000


def test_times_are_iso_utc():
    assert iso(0) == "1970-01-01T00:00:00Z"
    assert iso(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05Z"
    assert iso(datetime(2026, 1, 2, tzinfo=timezone.utc)) == "2026-01-02T00:00:00Z"
    assert iso(None) is None
