"""The flow DSL: build a Flow from a dict or YAML spec, and write a flow back as a spec.

Spec::

    flow_id: my_flow
    routines:
      ingest: {class: Ingest, config: {...}, error_handler: {strategy: retry, max_retries: 3}}
      process: {class: Process}
    connections:
      - {from: ingest.output, to: process.trigger, param_mapping: {data: items}}
    execution: {strategy: concurrent, max_workers: 4}

``class`` is a registered name (see :mod:`routilux.registry`); nothing is ever imported.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from routilux.error_handler import ErrorHandler
from routilux.errors import ValidationError
from routilux.registry import get_routine_class, routine_class_name

if TYPE_CHECKING:
    from routilux.flow import Flow

__all__ = ["build_flow", "flow_to_spec", "load_yaml", "validate_spec"]

_TOP_KEYS = {"flow_id", "routines", "connections", "execution", "description", "version"}
_ROUTINE_KEYS = {"class", "config", "error_handler"}
_CONN_KEYS = {"from", "to", "param_mapping"}
_EXEC_KEYS = {"strategy", "max_workers", "timeout"}


def _fail(field: str, message: str) -> ValidationError:
    return ValidationError(f"{field}: {message}", detail={"field": field})


def _unknown_keys(where: str, spec: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(spec) - allowed)
    if extra:
        raise _fail(where, f"unknown keys {extra}; allowed: {sorted(allowed)}")


def _endpoint(text: Any, field: str, what: str) -> tuple[str, str]:
    if not isinstance(text, str) or "." not in text:
        raise _fail(field, f"expected 'routine_id.{what}', got {text!r}")
    rid, _, name = text.rpartition(".")
    if not rid or not name:
        raise _fail(field, f"expected 'routine_id.{what}', got {text!r}")
    return rid, name


def validate_spec(spec: Any) -> dict[str, Any]:
    """Check a spec's shape (not class names); return it normalised. Errors name the field."""
    if not isinstance(spec, dict):
        raise _fail("spec", f"a flow spec is a mapping, got {type(spec).__name__}")
    _unknown_keys("spec", spec, _TOP_KEYS)
    flow_id = spec.get("flow_id")
    if flow_id is not None and (not isinstance(flow_id, str) or not flow_id):
        raise _fail("flow_id", "must be a non-empty string")
    routines = spec.get("routines")
    if not isinstance(routines, dict) or not routines:
        raise _fail("routines", "must be a non-empty mapping {routine_id: {class: Name}}")
    out_routines: dict[str, dict[str, Any]] = {}
    for rid, rspec in routines.items():
        field = f"routines.{rid}"
        if not isinstance(rid, str) or not rid:
            raise _fail("routines", f"routine ids are non-empty strings, got {rid!r}")
        if isinstance(rspec, str):
            rspec = {"class": rspec}
        if not isinstance(rspec, dict):
            raise _fail(field, "must be a mapping like {class: Name, config: {...}}")
        _unknown_keys(field, rspec, _ROUTINE_KEYS)
        cls = rspec.get("class")
        if not isinstance(cls, str) or not cls:
            raise _fail(f"{field}.class", "a registered routine class name is required")
        config = rspec.get("config") or {}
        if not isinstance(config, dict) or not all(isinstance(k, str) for k in config):
            raise _fail(f"{field}.config", "must be a mapping with string keys")
        eh = rspec.get("error_handler")
        if eh is not None and not isinstance(eh, dict):
            raise _fail(f"{field}.error_handler", "must be a mapping like {strategy: retry}")
        out_routines[rid] = {"class": cls, "config": config, "error_handler": eh}
    connections = spec.get("connections") or []
    if not isinstance(connections, list):
        raise _fail("connections", "must be a list of {from: rid.event, to: rid.slot}")
    out_conns = []
    for i, cspec in enumerate(connections):
        field = f"connections[{i}]"
        if not isinstance(cspec, dict):
            raise _fail(field, "must be a mapping {from: rid.event, to: rid.slot}")
        _unknown_keys(field, cspec, _CONN_KEYS)
        src, event = _endpoint(cspec.get("from"), f"{field}.from", "event")
        tgt, slot = _endpoint(cspec.get("to"), f"{field}.to", "slot")
        for rid, end in ((src, "from"), (tgt, "to")):
            if rid not in out_routines:
                raise _fail(f"{field}.{end}", f"unknown routine {rid!r}; routines: "
                            f"{sorted(out_routines)}")
        mapping = cspec.get("param_mapping") or {}
        if not isinstance(mapping, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
            raise _fail(f"{field}.param_mapping", "must map event params to slot params (str)")
        out_conns.append({"source": src, "event": event, "target": tgt, "slot": slot,
                          "param_mapping": mapping})
    execution = spec.get("execution") or {}
    if not isinstance(execution, dict):
        raise _fail("execution", "must be a mapping {strategy, max_workers}")
    _unknown_keys("execution", execution, _EXEC_KEYS)
    strategy = execution.get("strategy", "sequential")
    if strategy not in ("sequential", "concurrent"):
        raise _fail("execution.strategy", f"use 'sequential' or 'concurrent', got {strategy!r}")
    max_workers = execution.get("max_workers", 5)
    if not isinstance(max_workers, int) or isinstance(max_workers, bool) or max_workers < 1:
        raise _fail("execution.max_workers", "must be an integer >= 1")
    timeout = execution.get("timeout")
    if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
        raise _fail("execution.timeout", "must be a positive number of seconds")
    return {"flow_id": flow_id, "routines": out_routines, "connections": out_conns,
            "execution": {"strategy": strategy, "max_workers": max_workers, "timeout": timeout}}


def build_flow(spec: Any, into: Flow | None = None) -> Flow:
    """Build a Flow from a spec (or fill ``into``); every class resolves through the registry."""
    from routilux.flow import Flow

    norm = validate_spec(spec)
    classes = {rid: get_routine_class(r["class"]) for rid, r in norm["routines"].items()}
    ex = norm["execution"]
    if into is None:
        flow = Flow(norm["flow_id"], ex["strategy"], ex["max_workers"], ex["timeout"])
    else:
        flow = into
        if norm["flow_id"]:
            flow.flow_id = norm["flow_id"]
        flow.routines.clear()
        flow.connections.clear()
        flow._ids_by_routine.clear()
        flow._routes.clear()
        flow.set_execution_strategy(ex["strategy"], ex["max_workers"])
        flow.execution_timeout = ex["timeout"]
    for rid, rspec in norm["routines"].items():
        try:
            routine = classes[rid]()
        except TypeError as exc:
            raise _fail(f"routines.{rid}.class", f"{rspec['class']} cannot be built without "
                        f"arguments ({exc}); routine classes take no constructor arguments, use "
                        "config instead") from None
        if rspec["config"]:
            routine.set_config(**rspec["config"])
        if rspec["error_handler"] is not None:
            routine.set_error_handler(ErrorHandler.from_dict(rspec["error_handler"]))
        flow.add_routine(routine, rid)
    for c in norm["connections"]:
        flow.connect(c["source"], c["event"], c["target"], c["slot"], c["param_mapping"] or None)
    return flow


def flow_to_spec(flow: Flow) -> dict[str, Any]:
    """The spec of ``flow``: ``build_flow(flow_to_spec(flow))`` rebuilds the same wiring."""
    routines: dict[str, Any] = {}
    for rid, routine in flow.routines.items():
        entry: dict[str, Any] = {"class": routine_class_name(type(routine))}
        if routine._config:
            entry["config"] = dict(routine._config)
        if routine._error_handler is not None:
            entry["error_handler"] = routine._error_handler.to_dict()
        routines[rid] = entry
    connections = []
    for c in flow.connections:
        conn: dict[str, Any] = {"from": f"{c.source_routine}.{c.source_event}",
                                "to": f"{c.target_routine}.{c.target_slot}"}
        if c.param_mapping:
            conn["param_mapping"] = dict(c.param_mapping)
        connections.append(conn)
    execution: dict[str, Any] = {"strategy": flow.execution_strategy,
                                 "max_workers": flow.max_workers}
    if flow.execution_timeout is not None:
        execution["timeout"] = flow.execution_timeout
    return {"flow_id": flow.flow_id, "routines": routines, "connections": connections,
            "execution": execution}


def load_yaml(text_or_path: str | os.PathLike[str]) -> Any:
    """Parse YAML text, or a ``.yaml``/``.yml`` file, with ``yaml.safe_load`` (no custom tags)."""
    import yaml

    text = os.fspath(text_or_path)
    if "\n" not in text and text.endswith((".yaml", ".yml")) and os.path.exists(text):
        with open(text, encoding="utf-8") as fh:
            text = fh.read()
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationError(f"Flow YAML does not parse: {exc}", detail={"field": "dsl"}) from None
