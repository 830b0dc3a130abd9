"""Parse the HTTP and WebSocket examples of docs/user_guide/http_api.rst and match answers.

The page is the single source of the examples: ``.. code-block:: http`` blocks come in pairs (a
request, then its response), ``.. code-block:: text`` blocks with ``:class: websocket`` are
WebSocket transcripts, and ``.. test: <command> <args>`` comments (invisible in the built page)
tell the runner to wait for a job between two examples.

Matching (documented on the page): documented object keys must be present with matching values,
extra keys are fine; a list ending in ``"..."`` may be longer; strings in angle brackets are
placeholders: ``<any>``, ``<number>``, ``<time>``, ``<a|b>`` (one of), or ``<name>`` (an id
captured on first sight and compared afterwards, substituted into later requests).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Union

__all__ = [
    "HttpExample",
    "Hint",
    "Mismatch",
    "WsExample",
    "WsStep",
    "match",
    "parse_page",
    "substitute",
]

ELLIPSIS = "..."
_PLACEHOLDER = re.compile(r"^<([A-Za-z0-9_|.\- ]+)>$")
_IN_TEXT = re.compile(r"<([A-Za-z0-9_]+)>")
_DIRECTIVE = re.compile(r"^\.\. code-block:: *(\S+) *$")
_HINT = re.compile(r"^\.\. test: *(\S+)(.*)$")
_REQUEST_LINE = re.compile(r"^(GET|POST|PUT|DELETE|PATCH) (\S+) HTTP/1\.1$")
_STATUS_LINE = re.compile(r"^HTTP/1\.1 (\d{3})(?: .*)?$")


class Mismatch(AssertionError):
    """A response differs from the documented one; the message says where."""


@dataclass
class HttpExample:
    """One documented request and its documented response."""

    line: int
    method: str
    path: str
    request_headers: dict[str, str]
    body: Any
    status: int
    response_headers: dict[str, str]
    response: Any

    def __str__(self) -> str:
        return f"http_api.rst:{self.line} {self.method} {self.path}"


@dataclass
class WsStep:
    """``>`` (send) or ``<`` (expect) one JSON message."""

    direction: str
    message: Any


@dataclass
class WsExample:
    """A WebSocket transcript: the socket path and its steps."""

    line: int
    path: str
    steps: list[WsStep] = field(default_factory=list)

    def __str__(self) -> str:
        return f"http_api.rst:{self.line} WebSocket {self.path}"


@dataclass
class Hint:
    """``.. test: wait-done <job_id>`` and friends."""

    line: int
    command: str
    args: list[str]


Item = Union[HttpExample, WsExample, Hint]


def _blocks(lines: list[str]) -> list[tuple[int, str, dict[str, str], list[str]]]:
    """``(line, language, options, content lines)`` of every code-block, plus hints as
    ``(line, "hint", {}, [text])``, in page order."""
    out = []
    i = 0
    while i < len(lines):
        text = lines[i]
        hint = _HINT.match(text)
        if hint:
            out.append((i + 1, "hint", {}, [text]))
            i += 1
            continue
        m = _DIRECTIVE.match(text)
        if not m:
            i += 1
            continue
        start, lang = i + 1, m.group(1)
        i += 1
        options: dict[str, str] = {}
        while i < len(lines) and re.match(r"^ +:[\w-]+:", lines[i]):
            key, _, value = lines[i].strip()[1:].partition(":")
            options[key] = value.strip()
            i += 1
        content: list[str] = []
        while i < len(lines) and (not lines[i].strip() or lines[i].startswith("   ")):
            content.append(lines[i][3:] if lines[i].strip() else "")
            i += 1
        while content and not content[-1]:
            content.pop()
        while content and not content[0]:
            content.pop(0)
        out.append((start, lang, options, content))
    return out


def _head_and_body(content: list[str]) -> tuple[str, dict[str, str], Any]:
    first = content[0]
    headers: dict[str, str] = {}
    i = 1
    while i < len(content) and content[i].strip():
        name, _, value = content[i].partition(":")
        headers[name.strip()] = value.strip()
        i += 1
    text = "\n".join(content[i:]).strip()
    return first, headers, json.loads(text) if text else None


def _ws_example(line: int, content: list[str]) -> WsExample:
    head = content[0].split()
    if len(head) != 2 or head[0] != "WebSocket":
        raise ValueError(f"http_api.rst:{line}: a transcript starts with 'WebSocket /path'")
    example = WsExample(line, head[1])
    chunk: list[str] = []
    direction = ""
    for text in [*content[1:], "<end>"]:
        if text.startswith(("> ", "< ", "<end>")):
            if chunk:
                example.steps.append(WsStep(direction, json.loads(" ".join(chunk))))
            direction, chunk = text[:1], [text[2:]]
        else:
            chunk.append(text.strip())
    return example


def parse_page(path: Path) -> list[Item]:
    """Every example and hint of the page, in order."""
    items: list[Item] = []
    pending: tuple[int, str, dict[str, str], Any] | None = None
    for line, lang, options, content in _blocks(path.read_text(encoding="utf-8").splitlines()):
        if lang == "hint":
            m = _HINT.match(content[0])
            assert m is not None
            items.append(Hint(line, m.group(1), m.group(2).split()))
            continue
        if lang == "text" and "websocket" in options.get("class", "").split():
            items.append(_ws_example(line, content))
            continue
        if lang != "http":
            continue
        first, headers, body = _head_and_body(content)
        request = _REQUEST_LINE.match(first)
        if request:
            if pending is not None:
                raise ValueError(f"http_api.rst:{pending[0]}: request without a response block")
            pending = (line, first, headers, body)
            continue
        status = _STATUS_LINE.match(first)
        if not status or pending is None:
            raise ValueError(f"http_api.rst:{line}: expected a request or a response line")
        req_line, req_first, req_headers, req_body = pending
        req = _REQUEST_LINE.match(req_first)
        assert req is not None
        items.append(HttpExample(req_line, req.group(1), req.group(2), req_headers, req_body,
                                 int(status.group(1)), headers, body))
        pending = None
    if pending is not None:
        raise ValueError(f"http_api.rst:{pending[0]}: request without a response block")
    return items


def substitute(value: Any, known: dict[str, Any]) -> Any:
    """Replace ``<name>`` placeholders of a request (path text or JSON body) by captured ids."""
    if isinstance(value, str):
        def repl(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in known:
                raise KeyError(f"placeholder <{name}> used before a response defined it")
            return str(known[name])
        return _IN_TEXT.sub(repl, value)
    if isinstance(value, list):
        return [substitute(v, known) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, known) for k, v in value.items()}
    return value


def _is_time(value: Any) -> bool:
    # One format everywhere: ISO 8601 UTC ending in "Z" (never "+00:00")
    if not isinstance(value, str) or not value.endswith("Z"):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _placeholder(doc: str, actual: Any, known: dict[str, Any], where: str) -> None:
    m = _PLACEHOLDER.match(doc)
    assert m is not None
    name = m.group(1)
    if name == "any":
        return
    if name == "number":
        if isinstance(actual, bool) or not isinstance(actual, (int, float)):
            raise Mismatch(f"{where}: expected a number, got {actual!r}")
        return
    if name == "time":
        if not _is_time(actual):
            raise Mismatch(f"{where}: expected an ISO 8601 time, got {actual!r}")
        return
    if "|" in name:
        if actual not in name.split("|"):
            raise Mismatch(f"{where}: expected one of {name.split('|')}, got {actual!r}")
        return
    if name in known:
        if known[name] != actual:
            raise Mismatch(f"{where}: <{name}> was {known[name]!r} before, now {actual!r}")
        return
    if actual is None or isinstance(actual, (dict, list)):
        raise Mismatch(f"{where}: <{name}> should be an id, got {actual!r}")
    known[name] = actual


def match(doc: Any, actual: Any, known: dict[str, Any], where: str = "$") -> None:
    """Raise :class:`Mismatch` unless ``actual`` matches the documented ``doc``."""
    if isinstance(doc, str) and _PLACEHOLDER.match(doc):
        _placeholder(doc, actual, known, where)
        return
    if isinstance(doc, str) and _IN_TEXT.search(doc):
        # Text with embedded ids ("Job '<job_id>' is ...") compares after substitution.
        doc = substitute(doc, known)
    if isinstance(doc, dict):
        if not isinstance(actual, dict):
            raise Mismatch(f"{where}: expected an object, got {actual!r}")
        for key, value in doc.items():
            if key not in actual:
                raise Mismatch(f"{where}: key {key!r} missing from {sorted(actual)}")
            match(value, actual[key], known, f"{where}.{key}")
        return
    if isinstance(doc, list):
        if not isinstance(actual, list):
            raise Mismatch(f"{where}: expected a list, got {actual!r}")
        open_ended = bool(doc) and doc[-1] == ELLIPSIS
        items = doc[:-1] if open_ended else doc
        if len(actual) < len(items) or (not open_ended and len(actual) != len(items)):
            raise Mismatch(f"{where}: expected {len(items)}{'+' if open_ended else ''} items, "
                           f"got {len(actual)}: {actual!r}")
        for i, value in enumerate(items):
            match(value, actual[i], known, f"{where}[{i}]")
        return
    if isinstance(doc, bool) or doc is None or isinstance(actual, bool):
        if doc is not actual:
            raise Mismatch(f"{where}: expected {doc!r}, got {actual!r}")
        return
    if doc != actual:
        raise Mismatch(f"{where}: expected {doc!r}, got {actual!r}")
