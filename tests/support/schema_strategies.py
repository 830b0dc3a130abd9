"""Hypothesis strategies for the JSON Schema subset the routilux OpenAPI document uses.

hypothesis-jsonschema would do this, but its last release breaks on current Hypothesis
(``'many' object has no attribute 'more'``), and the document sticks to a small subset:
``$ref``, ``type`` (one or a list), ``enum``, ``const``, ``properties``/``required``,
``additionalProperties``, ``items``, ``minimum``/``maximum``, ``minLength``, ``anyOf``/``oneOf``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

__all__ = ["from_schema", "json_values"]

Resolve = Callable[[str], dict[str, Any]]

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=8,
)


def from_schema(schema: dict[str, Any], resolve: Resolve) -> st.SearchStrategy[Any]:
    """Values valid against ``schema``; ``resolve`` maps a ``$ref`` to its schema."""
    if "$ref" in schema:
        return from_schema(resolve(schema["$ref"]), resolve)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for key in ("oneOf", "anyOf"):
        if key in schema:
            base = {k: v for k, v in schema.items() if k != key}
            branches = []
            for branch in schema[key]:
                if set(branch) == {"required"}:  # "one of these fields is required"
                    merged = {**base, "required": [*base.get("required", []),
                                                   *branch["required"]]}
                    branches.append(from_schema(merged, resolve))
                else:
                    branches.append(from_schema(branch, resolve))
            return st.one_of(branches)
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([from_schema({**schema, "type": t}, resolve) for t in kind])
    if kind is None:
        return json_values
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        return st.floats(schema.get("minimum"), schema.get("maximum"), allow_nan=False,
                         allow_infinity=False)
    if kind == "string":
        return st.text(min_size=schema.get("minLength", 0), max_size=20)
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {}), resolve), max_size=3)
    if kind == "object":
        return _object(schema, resolve)
    raise ValueError(f"unsupported schema type {kind!r}")


def _object(schema: dict[str, Any], resolve: Resolve) -> st.SearchStrategy[dict[str, Any]]:
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    extra = schema.get("additionalProperties")
    if not properties:
        values = json_values if not isinstance(extra, dict) else from_schema(extra, resolve)
        return st.dictionaries(st.text(max_size=8), values, max_size=3)
    fixed = st.fixed_dictionaries(
        {k: from_schema(v, resolve) for k, v in properties.items() if k in required},
        optional={k: from_schema(v, resolve) for k, v in properties.items() if k not in required},
    )
    return fixed
