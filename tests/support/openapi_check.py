"""Hold real HTTP answers against the OpenAPI document: the right status, type and shape.

Used by the server tests (real answers per route), the docs test (the page's examples) and the
fuzz test. ``check`` raises :class:`ContractError` saying which rule an answer broke; ``seen``
records which (operation, status) pairs were checked so a test can demand coverage.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = ["ContractError", "OpenAPIChecker", "Operation"]

_DOC_URI = "urn:routilux:openapi"
_TRACEBACK = ("Traceback (most recent call last)", 'File "')


def _not_json(constant: str) -> Any:
    # Python's json reads NaN/Infinity; JSON (and JSON.parse in a browser) does not.
    raise ValueError(f"{constant} is not JSON")


class ContractError(AssertionError):
    """An answer that the OpenAPI document does not allow."""


@dataclass(frozen=True)
class Operation:
    """One documented ``method path`` and where it sits in the document."""

    method: str  # upper case
    template: str  # /api/jobs/{job_id}
    spec: dict[str, Any] = field(hash=False, compare=False)

    @property
    def pointer(self) -> str:
        escaped = self.template.replace("~", "~0").replace("/", "~1")
        return f"#/paths/{escaped}/{self.method.lower()}"

    @property
    def op_id(self) -> str:
        return str(self.spec["operationId"])


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("^" + "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
                      + "$")


class OpenAPIChecker:
    """Answers checked against ``document`` (the dict the server serves)."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.registry = Registry().with_resource(
            _DOC_URI, Resource.from_contents(document, default_specification=DRAFT202012))
        self.operations: list[Operation] = [
            Operation(method.upper(), template, op)
            for template, ops in document["paths"].items()
            for method, op in ops.items()
        ]
        # Literal segments win over templated ones (OpenAPI's rule): fewer parameters first.
        self._matchers = sorted(
            ((_template_regex(t), t) for t in document["paths"]), key=lambda mt: mt[1].count("{"))
        self.seen: set[tuple[str, int]] = set()  # (operationId, status)

    # -- lookup -------------------------------------------------------------------------------

    def template_for(self, path: str) -> str | None:
        """The documented path template a concrete path (no query) falls under, if any."""
        for regex, template in self._matchers:
            if regex.match(path):
                return template
        return None

    def operation(self, method: str, path: str) -> Operation | None:
        template = self.template_for(path.split("?", 1)[0])
        if template is None:
            return None
        spec = self.document["paths"][template].get(method.lower())
        return None if spec is None else Operation(method.upper(), template, spec)

    def validator(self, pointer: str) -> Draft202012Validator:
        """A validator of the schema at ``pointer`` (``#/...``) inside the document."""
        return Draft202012Validator(
            {"$ref": f"{_DOC_URI}{pointer}"}, registry=self.registry,
            format_checker=Draft202012Validator.FORMAT_CHECKER)

    def validate(self, instance: Any, pointer: str, what: str) -> None:
        error = best_match(self.validator(pointer).iter_errors(instance))
        if error is not None:
            where = "/".join(map(str, error.absolute_path)) or "(root)"
            raise ContractError(f"{what}: at {where}: {error.message}\n"
                                f"body: {json.dumps(instance)[:2000]}")

    def _response(self, op: Operation, status: int) -> tuple[str, dict[str, Any]]:
        responses = op.spec["responses"]
        key = str(status) if str(status) in responses else "default"
        if key not in responses:
            raise ContractError(f"{op.method} {op.template} answered {status}, which the "
                                f"document does not declare (it has {sorted(responses)})")
        pointer = f"{op.pointer}/responses/{key}"
        response = responses[key]
        if "$ref" in response:
            pointer = response["$ref"]
            response = self.resolve(pointer)
        return pointer, response

    def resolve(self, pointer: str) -> Any:
        node: Any = self.document
        for part in pointer.lstrip("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    # -- checks -------------------------------------------------------------------------------

    def check_request_body(self, method: str, path: str, body: Any) -> None:
        """A request body the document says is valid for ``method path``."""
        op = self.operation(method, path)
        if op is None:
            raise ContractError(f"{method} {path} is not a documented operation")
        if "requestBody" not in op.spec:
            if body is not None:
                raise ContractError(f"{method} {op.template} takes no body, got {body!r}")
            return
        pointer = f"{op.pointer}/requestBody/content/application~1json/schema"
        self.validate(body, pointer, f"request body of {method} {op.template}")

    def check(self, method: str, path: str, status: int, content_type: str | None,
              text: str) -> Any:
        """The decoded body, if the answer to ``method path`` (path may have a query) is one
        the document allows; else :class:`ContractError` saying why."""
        what = f"{method} {path} -> {status}"
        if any(marker in text for marker in _TRACEBACK):
            raise ContractError(f"{what}: traceback text in the body: {text[:2000]}")
        op = self.operation(method, path)
        if op is None:
            # Not an operation (wrong method, unknown sub-path): only the error body rule holds.
            if status < 400:
                raise ContractError(f"{what}: an undocumented request succeeded")
            data = self._decode_json(what, content_type, text)
            self.validate(data, "#/components/schemas/Error", f"{what} error body")
            return data
        pointer, response = self._response(op, status)
        self.seen.add((op.op_id, status))
        content = response.get("content")
        if not content:
            if text:
                raise ContractError(f"{what}: documented without a body, got {text[:500]!r}")
            return None
        media = (content_type or "").split(";", 1)[0].strip()
        if media not in content:
            raise ContractError(f"{what}: Content-Type {content_type!r}, documented "
                                f"{sorted(content)}")
        if media != "application/json":
            return text
        data = self._decode_json(what, content_type, text)
        escaped = media.replace("/", "~1")
        self.validate(data, f"{pointer}/content/{escaped}/schema", what)
        return data

    @staticmethod
    def _decode_json(what: str, content_type: str | None, text: str) -> Any:
        if not (content_type or "").startswith("application/json"):
            raise ContractError(f"{what}: Content-Type {content_type!r}, not JSON: {text[:500]!r}")
        try:
            return json.loads(text, parse_constant=_not_json)
        except ValueError as exc:
            raise ContractError(f"{what}: body is not JSON ({exc}): {text[:500]!r}") from None
