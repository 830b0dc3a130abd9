"""Parsing and validation of API request bodies and query parameters into plain dataclasses.

Everything a caller can get wrong is caught here with a :class:`~routilux.errors.ValidationError`
whose message names the field and what is accepted, and whose ``detail`` is ``{"field": name}``.
The HTTP layer only decodes JSON; owners receive already-checked values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from routilux.errors import ValidationError

__all__ = [
    "BREAKPOINT_TYPES",
    "DEBUG_STEPS",
    "EXECUTION_STRATEGIES",
    "JOB_STATUSES",
    "TRACE_FORMATS",
    "BreakpointPatch",
    "BreakpointSpec",
    "FlowCreate",
    "JobQuery",
    "JobStart",
    "VariableEdit",
    "normalize_step",
    "parse_breakpoint",
    "parse_breakpoint_patch",
    "parse_flow_create",
    "parse_job_query",
    "parse_job_start",
    "parse_trace_format",
    "parse_trace_limit",
    "parse_variable_edit",
]

EXECUTION_STRATEGIES = ("sequential", "concurrent")
BREAKPOINT_TYPES = ("routine", "slot", "event")
JOB_STATUSES = ("pending", "running", "paused", "completed", "failed", "cancelled", "lost")
DEBUG_STEPS = ("step_over", "step_into", "step_out", "resume")
TRACE_FORMATS = ("json", "csv")
_STEP_ALIASES = {"continue": "resume"}
_MAX_LIMIT = 10_000


@dataclass(frozen=True)
class FlowCreate:
    """``POST /api/flows``: build a flow from a DSL spec (YAML text or a dict)."""

    spec: dict[str, Any] | None = None
    dsl: str | None = None
    flow_id: str | None = None
    execution_strategy: str | None = None
    max_workers: int | None = None
    kernel_id: str | None = None


@dataclass(frozen=True)
class BreakpointSpec:
    """A breakpoint to create; ``job_id`` is filled in from the URL or the job being started."""

    type: str
    routine_id: str
    slot_name: str | None = None
    event_name: str | None = None
    condition: str | None = None
    enabled: bool = True


@dataclass(frozen=True)
class BreakpointPatch:
    """``PUT /api/jobs/{id}/breakpoints/{bp}``: only the given fields change."""

    enabled: bool | None = None
    condition: str | None = None
    set_condition: bool = False  # distinguishes "condition": null (clear it) from absent


@dataclass(frozen=True)
class JobStart:
    """``POST /api/jobs``: start a job, optionally with breakpoints armed before it runs."""

    flow_id: str
    entry_routine_id: str
    entry_slot: str = "trigger"
    entry_params: dict[str, Any] = field(default_factory=dict)
    breakpoints: tuple[BreakpointSpec, ...] = ()
    kernel_id: str | None = None


@dataclass(frozen=True)
class VariableEdit:
    """``PUT /api/jobs/{id}/debug/variables/{name}``."""

    name: str
    value: Any
    scope: str = "local"


@dataclass(frozen=True)
class JobQuery:
    """``GET /api/jobs`` filters and page."""

    flow_id: str | None = None
    status: str | None = None
    limit: int = 100
    offset: int = 0


def _object(body: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise ValidationError(
            f"The request body for {what} must be a JSON object, got {type(body).__name__}.",
            detail={"field": None},
        )
    return body


def _bad(key: str, message: str) -> ValidationError:
    return ValidationError(message, detail={"field": key})


def _opt_str(body: Mapping[str, Any], key: str, *, nonempty: bool = True) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or (nonempty and not value.strip()):
        raise _bad(key, f"'{key}' must be a non-empty string, got {value!r}.")
    return value


def _req_str(body: Mapping[str, Any], key: str, example: str) -> str:
    value = _opt_str(body, key)
    if value is None:
        raise _bad(key, f"Missing required field '{key}' (a string, e.g. {example!r}).")
    return value


def _opt_bool(body: Mapping[str, Any], key: str) -> bool | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise _bad(key, f"'{key}' must be true or false, got {value!r}.")
    return value


def _choice(body: Mapping[str, Any], key: str, choices: tuple[str, ...]) -> str | None:
    value = _opt_str(body, key)
    if value is not None and value not in choices:
        raise _bad(key, f"'{key}' must be one of {', '.join(choices)}; got {value!r}.")
    return value


def _int_value(key: str, raw: Any, *, low: int, high: int) -> int:
    if isinstance(raw, bool):
        raise _bad(key, f"'{key}' must be an integer, got {raw!r}.")
    if isinstance(raw, str):
        try:
            raw = int(raw.strip())
        except ValueError:
            raise _bad(key, f"'{key}' must be an integer, got {raw!r}.") from None
    if not isinstance(raw, int):
        raise _bad(key, f"'{key}' must be an integer, got {raw!r}.")
    if not low <= raw <= high:
        raise _bad(key, f"'{key}' must be between {low} and {high}, got {raw}.")
    return raw


def parse_flow_create(body: Any) -> FlowCreate:
    """Check a ``POST /api/flows`` body: exactly one of ``dsl`` (YAML text) or ``spec`` (object)."""
    body = _object(body, "creating a flow")
    dsl = body.get("dsl")
    spec = body.get("spec")
    if dsl is None and spec is None:
        raise _bad(
            "spec",
            "Give the flow as 'spec' (a JSON object with 'routines' and 'connections') "
            "or as 'dsl' (the same spec as YAML text).",
        )
    if dsl is not None and spec is not None:
        raise _bad("dsl", "Give either 'dsl' or 'spec', not both.")
    if dsl is not None and (not isinstance(dsl, str) or not dsl.strip()):
        raise _bad("dsl", "'dsl' must be the flow spec as non-empty YAML text.")
    if spec is not None and not isinstance(spec, Mapping):
        raise _bad("spec", "'spec' must be a JSON object with 'routines' and 'connections'.")
    max_workers = body.get("max_workers")
    return FlowCreate(
        spec=dict(spec) if spec is not None else None,
        dsl=dsl,
        flow_id=_opt_str(body, "flow_id"),
        execution_strategy=_choice(body, "execution_strategy", EXECUTION_STRATEGIES),
        max_workers=None
        if max_workers is None
        else _int_value("max_workers", max_workers, low=1, high=1024),
        kernel_id=_opt_str(body, "kernel_id"),
    )


def parse_breakpoint(body: Any, *, field_prefix: str = "") -> BreakpointSpec:
    """Check a breakpoint body; ``type`` defaults from which of slot/event name is given."""
    body = _object(body, "a breakpoint")
    slot_name = _opt_str(body, "slot_name")
    event_name = _opt_str(body, "event_name")
    bp_type = _choice(body, "type", BREAKPOINT_TYPES)
    if bp_type is None:
        bp_type = "slot" if slot_name else "event" if event_name else "routine"
    routine_id = _opt_str(body, "routine_id")
    if routine_id is None:
        raise _bad(
            f"{field_prefix}routine_id",
            f"Missing required field '{field_prefix}routine_id': the routine to stop at.",
        )
    if bp_type == "slot" and slot_name is None:
        raise _bad(f"{field_prefix}slot_name", "A 'slot' breakpoint needs 'slot_name'.")
    if bp_type == "event" and event_name is None:
        raise _bad(f"{field_prefix}event_name", "An 'event' breakpoint needs 'event_name'.")
    condition = _opt_str(body, "condition")
    enabled = _opt_bool(body, "enabled")
    return BreakpointSpec(
        type=bp_type,
        routine_id=routine_id,
        slot_name=slot_name,
        event_name=event_name,
        condition=condition,
        enabled=True if enabled is None else enabled,
    )


def parse_breakpoint_patch(body: Any) -> BreakpointPatch:
    """Check a ``PUT`` breakpoint body: ``enabled`` and/or ``condition`` (``null`` clears it)."""
    body = _object(body, "updating a breakpoint")
    if "enabled" not in body and "condition" not in body:
        raise _bad("enabled", "Give 'enabled' (true/false) and/or 'condition' (text or null).")
    has_condition = "condition" in body
    return BreakpointPatch(
        enabled=_opt_bool(body, "enabled"),
        condition=_opt_str(body, "condition") if has_condition else None,
        set_condition=has_condition,
    )


def parse_job_start(body: Any) -> JobStart:
    """Check a ``POST /api/jobs`` body."""
    body = _object(body, "starting a job")
    params = body.get("entry_params")
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise _bad("entry_params", "'entry_params' must be a JSON object (the entry payload).")
    raw_bps = body.get("breakpoints")
    if raw_bps is None:
        raw_bps = []
    if not isinstance(raw_bps, list):
        raise _bad("breakpoints", "'breakpoints' must be a list of breakpoint objects.")
    breakpoints = tuple(
        parse_breakpoint(item, field_prefix=f"breakpoints[{i}].") for i, item in enumerate(raw_bps)
    )
    return JobStart(
        flow_id=_req_str(body, "flow_id", "my_flow"),
        entry_routine_id=_req_str(body, "entry_routine_id", "source"),
        entry_slot=_opt_str(body, "entry_slot") or "trigger",
        entry_params=dict(params),
        breakpoints=breakpoints,
        kernel_id=_opt_str(body, "kernel_id"),
    )


def parse_variable_edit(name: str, body: Any) -> VariableEdit:
    """Check a ``PUT variables/{name}`` body: ``{"value": ..., "scope"?: "local"|"shared"}``."""
    body = _object(body, "setting a variable")
    if not name or not name.isidentifier():
        raise _bad("name", f"Variable name must be an identifier, got {name!r}.")
    if "value" not in body:
        raise _bad("value", "Missing required field 'value' (any JSON value).")
    return VariableEdit(
        name=name, value=body["value"], scope=_choice(body, "scope", ("local", "shared")) or "local"
    )


def parse_job_query(params: Mapping[str, Any]) -> JobQuery:
    """Check ``GET /api/jobs`` query parameters (all optional)."""
    limit = params.get("limit")
    offset = params.get("offset")
    return JobQuery(
        flow_id=_opt_str(params, "flow_id"),
        status=_choice(params, "status", JOB_STATUSES),
        limit=100 if limit in (None, "") else _int_value("limit", limit, low=1, high=_MAX_LIMIT),
        offset=0 if offset in (None, "") else _int_value("offset", offset, low=0, high=10**9),
    )


def parse_trace_limit(raw: Any) -> int | None:
    """Check ``?limit=`` of a trace: ``None`` for all buffered events."""
    if raw in (None, ""):
        return None
    return _int_value("limit", raw, low=1, high=10**6)


def parse_trace_format(raw: Any) -> str:
    """Check ``?format=`` of a trace: ``json`` (the default) or ``csv``."""
    if raw in (None, ""):
        return "json"
    value = str(raw).strip().lower()
    if value not in TRACE_FORMATS:
        raise _bad("format", f"Unknown trace format {raw!r}; use one of {', '.join(TRACE_FORMATS)}.")
    return value


def normalize_step(name: str) -> str:
    """Map ``step-over``/``step_over``/``continue`` to the service's step names."""
    step = name.replace("-", "_")
    step = _STEP_ALIASES.get(step, step)
    if step not in DEBUG_STEPS:
        raise _bad("command", f"Unknown debug step {name!r}; use one of {', '.join(DEBUG_STEPS)}.")
    return step
