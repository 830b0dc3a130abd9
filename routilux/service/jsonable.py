"""Turning arbitrary Python values into bounded, JSON-ready values.

Payloads, shared data and frame locals can hold anything (arrays, sockets, huge strings). The API
must never fail to serialize them nor send them unbounded, so unknown objects become a short
``repr`` and containers are cut at a fixed size and depth.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from datetime import datetime, timezone
from enum import Enum
from typing import Any

__all__ = ["MAX_ITEMS", "MAX_REPR", "iso", "jsonable", "plain"]

MAX_REPR = 500
MAX_ITEMS = 200
_MAX_DEPTH = 6


def iso(value: Any) -> str | None:
    """An ISO 8601 UTC string for a datetime, an epoch float, an ISO string or ``None``."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), tz=timezone.utc).isoformat().replace(
            "+00:00", "Z"
        )
    return str(value)


def _short_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__ must not break the API
        text = f"<{type(value).__name__} (repr failed: {type(exc).__name__})>"
    if len(text) > MAX_REPR:
        text = text[: MAX_REPR - 3] + "..."
    return text


def jsonable(value: Any, _depth: int = 0) -> Any:
    """A JSON-ready copy of ``value``: containers cut at MAX_ITEMS, the rest as bounded reprs."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _short_repr(value)
    if isinstance(value, str):
        return value if len(value) <= MAX_REPR * 20 else value[: MAX_REPR * 20] + "..."
    if isinstance(value, Enum):
        return jsonable(value.value, _depth)
    if isinstance(value, datetime):
        return iso(value)
    if _depth >= _MAX_DEPTH:
        return _short_repr(value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for i, (key, item) in enumerate(value.items()):
            if i >= MAX_ITEMS:
                out["..."] = f"{len(value) - MAX_ITEMS} more"
                break
            out[key if isinstance(key, str) else _short_repr(key)] = jsonable(item, _depth + 1)
        return out
    if isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)[: MAX_ITEMS + 1] if not isinstance(value, (list, tuple)) else value
        cut = [jsonable(item, _depth + 1) for item in items[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            cut.append(f"... {len(value) - MAX_ITEMS} more")
        return cut
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(
            {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}, _depth
        )
    return _short_repr(value)


def plain(obj: Any) -> dict[str, Any]:
    """A dict view of a monitoring record (a Mapping, a dataclass or an object with ``to_dict``)."""
    if isinstance(obj, Mapping):
        return dict(obj)
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        result = to_dict()
        if isinstance(result, Mapping):
            return dict(result)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    return {k: v for k, v in vars(obj).items() if not k.startswith("_")}
