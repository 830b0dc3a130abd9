"""Bounded, JSON-ready summaries of payload values for traces, variables and storage.

Why: payloads can be anything (a dataframe, a 1 GB bytes object, a self-referencing dict). Traces
and the debugger must show them without holding or serialising them unbounded, and without
failing when an object's ``repr`` raises.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Mapping
from typing import Any

__all__ = ["MAX_STR", "summarize", "summarize_mapping"]

MAX_STR = 200          # characters kept of one string
MAX_ITEMS = 20         # items kept of one container
MAX_DEPTH = 4          # nesting kept before falling back to a bounded repr
MAX_TOTAL = 4000       # approximate characters per summarised value

_repr = reprlib.Repr()
_repr.maxstring = MAX_STR
_repr.maxother = MAX_STR
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = MAX_ITEMS
_repr.maxlevel = 3


class _Budget:
    __slots__ = ("left",)

    def __init__(self, left: int) -> None:
        self.left = left


def _short_str(text: str) -> str:
    if len(text) <= MAX_STR:
        return text
    return text[:MAX_STR] + f"... ({len(text)} chars)"


def _bounded_repr(value: Any) -> str:
    try:
        text = _repr.repr(value)
    except Exception as exc:  # a broken __repr__ must not break the trace
        text = f"<{type(value).__name__} (repr failed: {type(exc).__name__})>"
    return _short_str(text)


def _summ(value: Any, depth: int, budget: _Budget) -> Any:
    if budget.left <= 0:
        return "..."
    if value is None or isinstance(value, bool):
        budget.left -= 4
        return value
    if isinstance(value, int):
        budget.left -= 8
        # JSON readers (browsers) lose precision beyond 2**53; keep such ints as text
        if abs(value) < 2**53:
            return value
        return _short_str(str(value)) if value.bit_length() < 4000 else f"<int of {value.bit_length()} bits>"
    if isinstance(value, float):
        budget.left -= 8
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, str):
        text = _short_str(value)
        budget.left -= len(text) + 2
        return text
    if depth >= MAX_DEPTH:
        text = _bounded_repr(value)
        budget.left -= len(text)
        return text
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for i, (k, v) in enumerate(value.items()):
            if i >= MAX_ITEMS or budget.left <= 0:
                out["..."] = f"{len(value) - i} more"
                break
            key = k if isinstance(k, str) else _bounded_repr(k)
            budget.left -= len(key) + 2
            out[key] = _summ(v, depth + 1, budget)
        return out
    if type(value) in (list, tuple, set, frozenset):
        items = list(value)[: MAX_ITEMS + 1]
        out_list: list[Any] = []
        for i, v in enumerate(items):
            if i >= MAX_ITEMS or budget.left <= 0:
                out_list.append(f"... {len(value) - i} more")
                break
            out_list.append(_summ(v, depth + 1, budget))
        return out_list
    text = _bounded_repr(value)
    budget.left -= len(text)
    return text


def summarize(value: Any, max_total: int = MAX_TOTAL) -> Any:
    """A JSON-ready, size-bounded rendering of ``value``.

    Small JSON values (None, bools, numbers, short strings, small dicts/lists of those) come back
    as themselves; anything else becomes a bounded ``repr`` string.
    """
    try:
        return _summ(value, 0, _Budget(max_total))
    except Exception as exc:  # e.g. a mapping whose items() raises
        return f"<{type(value).__name__} (summary failed: {type(exc).__name__})>"


def summarize_mapping(mapping: Mapping[str, Any] | None, max_total: int = MAX_TOTAL) -> dict[str, Any]:
    """Summarise every value of a mapping (payload, locals, shared data) within one budget."""
    if not mapping:
        return {}
    if type(mapping) is dict and len(mapping) <= 8:
        # Fast path for the common payload: a few scalar values, JSON-ready as they are.
        for k, v in mapping.items():
            t = type(v)
            if type(k) is not str or not (
                t is int and -(2**53) < v < 2**53 or t is str and len(v) <= MAX_STR
                or t is bool or v is None or t is float and math.isfinite(v)
            ):
                break
        else:
            return dict(mapping)
    budget = _Budget(max_total)
    out: dict[str, Any] = {}
    try:
        items = list(mapping.items())
    except Exception as exc:
        return {"<error>": f"could not read the mapping: {type(exc).__name__}"}
    for i, (k, v) in enumerate(items):
        if i >= 4 * MAX_ITEMS or budget.left <= 0:
            out["..."] = f"{len(items) - i} more"
            break
        key = k if isinstance(k, str) else _bounded_repr(k)
        try:
            out[key] = _summ(v, 1, budget)
        except Exception as exc:
            out[key] = f"<{type(v).__name__} (summary failed: {type(exc).__name__})>"
    return out
