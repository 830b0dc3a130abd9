"""JSON Schemas (OpenAPI 3.1 / JSON Schema 2020-12) of what the routilux REST API sends and takes.

Plain data, no Jupyter imports: :mod:`routilux_jupyter.server.openapi` puts them under
``components.schemas``. They mirror :mod:`routilux.service.shapes` (answers) and
:mod:`routilux.service.requests` (bodies and query parameters). Objects stay open
(``additionalProperties`` allowed) because DESIGN.md section 6 says extra fields are fine and clients
must ignore what they do not know; the listed ``required`` keys are always present.
"""

from __future__ import annotations

from typing import Any

from routilux.service.requests import BREAKPOINT_TYPES, EXECUTION_STRATEGIES, JOB_STATUSES

__all__ = ["SCHEMAS", "ref"]

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    """A ``$ref`` to ``#/components/schemas/{name}``."""
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: Schema) -> Schema:
    """``schema`` or JSON ``null`` (OpenAPI 3.1 has no ``nullable``: a type list does it)."""
    if "type" in schema and len(schema) <= 3 and "$ref" not in schema:
        return {**schema, "type": [schema["type"], "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def _obj(required: list[str], properties: dict[str, Schema], description: str = "") -> Schema:
    out: Schema = {"type": "object", "required": required, "properties": properties}
    if description:
        out["description"] = description
    return out


_STR: Schema = {"type": "string"}
_INT: Schema = {"type": "integer"}
_NUM: Schema = {"type": "number"}
_ANY_OBJECT: Schema = {"type": "object"}
# One time format everywhere (DESIGN.md section 6): ISO 8601 in UTC, ending in "Z".
_TIME: Schema = {"type": "string", "format": "date-time", "pattern": "Z$"}
_TIME_OR_NULL: Schema = {"type": ["string", "null"], "format": "date-time", "pattern": "Z$"}
_STR_OR_NULL: Schema = {"type": ["string", "null"]}
_STATUS: Schema = {"type": "string", "enum": list(JOB_STATUSES)}

SCHEMAS: dict[str, Schema] = {
    "Error": _obj(
        ["message", "detail"],
        {
            "message": {"type": "string", "description": "What went wrong and how to fix it."},
            "detail": {
                "description": "Machine-readable context (e.g. {\"field\": ...}, "
                "{\"job_id\": ..., \"status\": ...}) or null.",
            },
        },
        "Every error answer. Never a traceback.",
    ),
    "Owner": _obj(
        ["kind", "kernel_id", "notebook_path"],
        {
            "kind": {"type": "string", "enum": ["server", "kernel"]},
            "kernel_id": _STR_OR_NULL,
            "notebook_path": _STR_OR_NULL,
        },
        "The process that holds a flow or job: the server, or a kernel that ran %load_ext routilux.",
    ),
    "Routine": _obj(
        ["routine_id", "class_name", "slots", "events", "config"],
        {
            "routine_id": _STR,
            "class_name": _STR,
            "slots": {"type": "array", "items": _STR},
            "events": {"type": "array", "items": _STR},
            "config": _ANY_OBJECT,
        },
    ),
    "Connection": _obj(
        ["connection_id", "source_routine", "source_event", "target_routine", "target_slot",
         "param_mapping"],
        {
            "connection_id": _STR,
            "source_routine": _STR,
            "source_event": _STR,
            "target_routine": _STR,
            "target_slot": _STR,
            "param_mapping": {"type": ["object", "null"], "additionalProperties": _STR},
        },
        "One event -> slot wire; param_mapping is {event_param: slot_param}.",
    ),
    "Flow": _obj(
        ["flow_id", "routines", "connections", "execution_strategy", "max_workers", "owner"],
        {
            "flow_id": _STR,
            "routines": {"type": "object", "additionalProperties": ref("Routine")},
            "connections": {"type": "array", "items": ref("Connection")},
            "execution_strategy": {"type": "string", "enum": list(EXECUTION_STRATEGIES)},
            "max_workers": {**_INT, "minimum": 1},
            "owner": ref("Owner"),
            "executor": {**_STR, "description": "Optional: the executor its jobs use."},
        },
    ),
    "FlowList": _obj(
        ["flows", "total"],
        {"flows": {"type": "array", "items": ref("Flow")}, "total": {**_INT, "minimum": 0}},
    ),
    "FlowCreate": {
        **_obj(
            [],
            {
                "flow_id": {**_STR, "minLength": 1,
                            "description": "Overrides the spec's flow_id."},
                "dsl": {**_STR, "minLength": 1, "description": "The DSL spec as YAML text."},
                "spec": {**_ANY_OBJECT, "description": "The DSL spec as a JSON object: "
                         "{flow_id?, routines: {rid: {class, config?, error_handler?}}, "
                         "connections: [{from: 'rid.event', to: 'rid.slot', param_mapping?}], "
                         "execution?: {strategy, max_workers}}."},
                "execution_strategy": {"type": "string", "enum": list(EXECUTION_STRATEGIES)},
                "max_workers": {**_INT, "minimum": 1, "maximum": 1024},
                "kernel_id": {**_STR, "minLength": 1,
                              "description": "Build the flow in this connected kernel."},
            },
            "Exactly one of dsl or spec. class names resolve through the routine registry only.",
        ),
        "oneOf": [{"required": ["dsl"]}, {"required": ["spec"]}],
    },
    "Job": _obj(
        ["job_id", "flow_id", "status", "created_at", "started_at", "completed_at", "error",
         "owner"],
        {
            "job_id": _STR,
            "flow_id": _STR,
            "status": _STATUS,
            "created_at": _TIME_OR_NULL,
            "started_at": _TIME_OR_NULL,
            "completed_at": _TIME_OR_NULL,
            "updated_at": _TIME_OR_NULL,
            "error": _STR_OR_NULL,
            "owner": ref("Owner"),
            "executor": {**_STR, "description": "Optional: the executor that runs the job's "
                         "handlers (e.g. 'thread', 'dask'), when the owner reports it."},
            "executor_info": {**_ANY_OBJECT, "description": "Optional: the executor's own "
                              "description ({name, ...})."},
            "routine_states": {"type": "object", "additionalProperties": _ANY_OBJECT},
            "errors": {"type": "array"},
            "shared_data_keys": {"type": "array", "items": _STR},
            "label": _STR_OR_NULL,
            "pinned": {"type": "boolean", "description": "Never evicted nor pruned."},
            "parent_job_id": _STR_OR_NULL,
            "forked_from": {"anyOf": [ref("ForkPoint"), {"type": "null"}]},
            "replay_of": _STR_OR_NULL,
            "entry": {"type": ["object", "null"],
                      "description": "Where the job started: {routine_id, slot_name} (the "
                      "params are in the recorded activations)."},
        },
        "One run of a flow; times are ISO 8601 UTC or null. A fork (re-run) names its "
        "parent_job_id and forked_from; a replay its replay_of.",
    ),
    "JobList": _obj(
        ["jobs", "total"],
        {"jobs": {"type": "array", "items": ref("Job")}, "total": {**_INT, "minimum": 0}},
        "Newest first; total counts every match, not only this page.",
    ),
    "JobStarted": _obj(
        ["job_id", "flow_id", "status"],
        {"job_id": _STR, "flow_id": _STR, "status": _STATUS},
        "The job just started (status 'running'); owners may add the other Job fields.",
    ),
    "BreakpointCreate": _obj(
        ["routine_id"],
        {
            "type": {"type": "string", "enum": list(BREAKPOINT_TYPES),
                     "description": "Default: 'slot' with slot_name, 'event' with event_name, "
                     "else 'routine'."},
            "routine_id": {**_STR, "minLength": 1},
            "slot_name": {**_STR, "minLength": 1, "description": "Required for type 'slot'."},
            "event_name": {**_STR, "minLength": 1, "description": "Required for type 'event'."},
            "condition": {**_STR, "minLength": 1,
                          "description": "An expression over the payload (see the docs); checked "
                          "against an allow-list, never eval'ed."},
            "enabled": {"type": "boolean", "default": True},
        },
    ),
    "JobStart": _obj(
        ["flow_id", "entry_routine_id"],
        {
            "flow_id": {**_STR, "minLength": 1},
            "entry_routine_id": {**_STR, "minLength": 1},
            "entry_slot": {**_STR, "minLength": 1, "default": "trigger"},
            "entry_params": {**_ANY_OBJECT, "description": "The entry slot's payload."},
            "breakpoints": {"type": "array", "items": ref("BreakpointCreate"),
                            "description": "Armed before the first routine runs."},
            "kernel_id": {**_STR, "minLength": 1,
                          "description": "Picks among same-named flows of several kernels."},
        },
    ),
    "ForkPoint": _obj(["job_id", "seq"], {"job_id": _STR, "seq": {**_INT, "minimum": 1}},
                      "The job and trace seq a fork re-ran from."),
    "JobPatch": {
        **_obj([], {"label": {"type": ["string", "null"], "maxLength": 200,
                              "description": "null clears the label."},
                    "pinned": {"type": "boolean"}},
               "Only the given fields change; at least one is needed."),
        "additionalProperties": False,  # the server refuses unknown fields here
        "minProperties": 1,
    },
    "JobRerun": {
        **_obj(["seq"], {
            "seq": {**_INT, "minimum": 1, "description": "The trace seq of the activation's "
                    "routine_start event (GET /jobs/{job_id}/activations lists them)."},
            "data": {"type": ["object", "null"],
                     "description": "The edited input; absent or null: the recorded one."}}),
        "additionalProperties": False,
    },
    "Activation": _obj(
        ["seq", "routine_id", "slot_name", "input", "emits"],
        {
            "job_id": _STR,
            "flow_id": _STR_OR_NULL,
            "seq": {**_INT, "minimum": 1},
            "activation_id": {"type": ["integer", "string", "null"]},
            "routine_id": _STR,
            "slot_name": _STR_OR_NULL,
            "input": {"description": "What the handler received (after merging); non-JSON "
                      "values as {\"__repr__\": ...}."},
            "shared": {"description": "The shared data the activation started with."},
            "emits": {"type": "array", "items": _obj(
                ["event_name", "data"],
                {"seq": {"type": ["integer", "null"]}, "event_name": _STR, "data": {}})},
            "status": _STR_OR_NULL,
            "duration": {"type": ["number", "null"]},
            "error": {},
        },
        "One recorded activation: its input, emits and starting shared data.",
    ),
    "ActivationList": _obj(
        ["activations", "total"],
        {"activations": {"type": "array", "items": ref("Activation")},
         "total": {**_INT, "minimum": 0}},
    ),
    "RunDiff": _obj(
        ["job_a", "job_b", "flow_id", "same", "status", "differing_routines", "origins",
         "routines"],
        {
            "job_a": _STR,
            "job_b": _STR,
            "flow_id": _STR_OR_NULL,
            "same": {"type": "boolean"},
            "status": _ANY_OBJECT,
            "differing_routines": {"type": "array", "items": _STR},
            "origins": {"type": "array", "items": _STR,
                        "description": "Routines whose behaviour changed, or where an input "
                        "differed first."},
            "routines": {"type": "array", "items": _obj(
                ["routine_id", "differs", "first_difference"],
                {"routine_id": _STR, "differs": {"type": "boolean"},
                 "first_difference": {"type": ["object", "null"]}})},
        },
        "Two runs of one flow compared, routine by routine.",
    ),
    "JobStatus": _obj(
        ["job_id", "status"], {"job_id": _STR, "status": _STATUS},
        "The answer to a control action (pause, resume, cancel, step).",
    ),
    "RoutineMetrics": _obj(
        ["routine_id", "execution_count", "total_duration", "avg_duration", "min_duration",
         "max_duration", "error_count", "last_execution"],
        {
            "routine_id": _STR,
            "execution_count": {**_INT, "minimum": 0},
            "total_duration": _NUM,
            "avg_duration": _NUM,
            "min_duration": {"type": ["number", "null"]},
            "max_duration": {"type": ["number", "null"]},
            "error_count": {**_INT, "minimum": 0},
            "last_execution": _TIME_OR_NULL,
            "duration_ms": _NUM,
            "avg_duration_ms": _NUM,
            "status": _STR_OR_NULL,
        },
        "Durations in seconds unless the name ends in _ms.",
    ),
    "Metrics": _obj(
        ["job_id", "flow_id", "status", "start_time", "end_time", "duration", "duration_ms",
         "total_routines", "completed_routines", "failed_routines", "total_events",
         "total_slot_calls", "total_event_emits", "routine_metrics", "errors"],
        {
            "job_id": _STR,
            "flow_id": _STR_OR_NULL,
            "status": _STR,
            "start_time": _TIME_OR_NULL,
            "end_time": _TIME_OR_NULL,
            "duration": {"type": ["number", "null"], "description": "Seconds."},
            "duration_ms": {"type": ["number", "null"]},
            "total_routines": {**_INT, "minimum": 0},
            "completed_routines": {**_INT, "minimum": 0},
            "failed_routines": {**_INT, "minimum": 0},
            "total_events": {**_INT, "minimum": 0},
            "total_slot_calls": {**_INT, "minimum": 0},
            "total_event_emits": {**_INT, "minimum": 0},
            "routine_metrics": {"type": "object", "additionalProperties": ref("RoutineMetrics")},
            "errors": {"type": "array"},
        },
    ),
    "TraceEvent": _obj(
        ["event_id", "job_id", "routine_id", "event_type", "timestamp", "data", "duration",
         "status"],
        {
            "type": {"const": "event"},
            "event_id": _STR,
            "seq": {**_INT, "minimum": 0, "description": "Order within the job."},
            "job_id": _STR,
            "flow_id": _STR_OR_NULL,
            "routine_id": _STR_OR_NULL,
            "event_type": {**_STR, "description": "job_start, routine_start, slot_call, "
                           "event_emit, routine_complete, routine_error, breakpoint_hit, "
                           "job_paused, job_resumed, job_cancelled, job_completed, job_failed."},
            "timestamp": _TIME_OR_NULL,
            "data": {**_ANY_OBJECT, "description": "Payload values as bounded summaries."},
            "duration": {"type": ["number", "null"]},
            "status": _STR_OR_NULL,
            "slot_name": _STR_OR_NULL,
            "event_name": _STR_OR_NULL,
            "activation_id": {"type": ["integer", "null"]},
            "source_activation_id": {"type": ["integer", "null"],
                                     "description": "On routine_start: the activation whose "
                                     "emit fed this one."},
        },
        "One execution event; the same shape as the WebSocket event messages.",
    ),
    "Trace": _obj(
        ["events", "total"],
        {"events": {"type": "array", "items": ref("TraceEvent")},
         "total": {**_INT, "minimum": 0}},
        "Oldest first; total counts the events retained.",
    ),
    "Breakpoint": _obj(
        ["breakpoint_id", "job_id", "flow_id", "type", "routine_id", "slot_name", "event_name",
         "condition", "enabled", "hit_count"],
        {
            "breakpoint_id": _STR,
            "job_id": _STR_OR_NULL,
            "flow_id": _STR_OR_NULL,
            "type": {"type": "string", "enum": list(BREAKPOINT_TYPES)},
            "routine_id": _STR_OR_NULL,
            "slot_name": _STR_OR_NULL,
            "event_name": _STR_OR_NULL,
            "condition": _STR_OR_NULL,
            "enabled": {"type": "boolean"},
            "hit_count": {**_INT, "minimum": 0},
            "last_error": _STR_OR_NULL,
        },
    ),
    "BreakpointList": _obj(
        ["breakpoints", "total"],
        {"breakpoints": {"type": "array", "items": ref("Breakpoint")},
         "total": {**_INT, "minimum": 0}},
    ),
    "BreakpointPatch": {
        **_obj(
            [],
            {"enabled": {"type": "boolean"},
             "condition": {"type": ["string", "null"], "minLength": 1,
                           "description": "null removes the condition."}},
            "Only the given fields change; at least one is needed.",
        ),
        "anyOf": [{"required": ["enabled"]}, {"required": ["condition"]}],
    },
    "PausedAt": _obj(
        ["routine_id", "slot_name", "event_name", "line"],
        {
            "routine_id": _STR_OR_NULL,
            "slot_name": _STR_OR_NULL,
            "event_name": _STR_OR_NULL,
            "line": {"type": ["integer", "null"],
                     "description": "Set when paused inside a handler (after step_into)."},
            "function": _STR_OR_NULL,
            "file": _STR_OR_NULL,
        },
    ),
    "DebugSession": _obj(
        ["job_id", "status", "paused_at"],
        {
            "job_id": _STR,
            "status": _STATUS,
            "paused_at": _nullable(ref("PausedAt")),
            "pause_reason": _STR_OR_NULL,
            "breakpoint_id": _STR_OR_NULL,
        },
    ),
    "Variables": _obj(
        ["variables"],
        {"variables": _obj(
            ["local", "shared"],
            {"local": {**_ANY_OBJECT, "description": "The paused payload, or frame locals "
                       "inside a handler; values as JSON or bounded reprs."},
             "shared": {**_ANY_OBJECT, "description": "The job's shared data."}},
        )},
    ),
    "VariableEdit": _obj(
        ["value"],
        {"value": {"description": "Any JSON value."},
         "scope": {"type": "string", "enum": ["local", "shared"], "default": "local"}},
    ),
    "VariableSet": _obj(
        ["name", "value", "scope"],
        {"name": _STR, "value": {}, "scope": {"type": "string", "enum": ["local", "shared"]}},
    ),
    "Frame": _obj(
        ["routine_id", "slot_name", "event_name", "function", "file", "line"],
        {
            "kind": {"type": "string", "enum": ["activation", "python"]},
            "routine_id": _STR_OR_NULL,
            "slot_name": _STR_OR_NULL,
            "event_name": _STR_OR_NULL,
            "function": _STR_OR_NULL,
            "file": _STR_OR_NULL,
            "line": {"type": ["integer", "null"]},
        },
    ),
    "CallStack": _obj(
        ["frames"], {"frames": {"type": "array", "items": ref("Frame")}},
        "Innermost first: Python frames while stepping inside a handler, then the chain of "
        "activations (which emit fed which slot).",
    ),
    "Health": _obj(
        ["status", "version", "owners", "history"],
        {
            "status": {"const": "ok"},
            "version": _STR,
            "flows": {**_INT, "minimum": 0},
            "jobs": {**_INT, "minimum": 0},
            "owners": {"type": "array", "items": ref("Owner")},
            "history": {"type": "boolean", "description": "Whether a history database is on."},
        },
    ),
}
