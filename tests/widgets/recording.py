"""The recording comm (the only fake in the widget tests) and helpers to drive a view with it."""

from __future__ import annotations

import itertools
import threading
from typing import Any, Callable

_ids = itertools.count(1)


class RecordingComm:
    """Stands in for the kernel's comm: records what the widget sends, delivers what we inject."""

    kernel = "recording"  # ipywidgets only sends when the comm has a kernel

    def __init__(self, **kwargs: Any) -> None:
        self.comm_id = f"rec-{next(_ids)}"
        self.open_args = kwargs
        self.sent: list[dict[str, Any]] = []
        self.closed = False
        self._handler: Callable[[dict[str, Any]], None] | None = None
        self._cond = threading.Condition()

    # comm API used by ipywidgets
    def send(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
        with self._cond:
            self.sent.append(data)
            self._cond.notify_all()

    def on_msg(self, callback: Callable[[dict[str, Any]], None]) -> None:
        self._handler = callback

    def close(self, *args: Any, **kwargs: Any) -> None:
        self.closed = True

    # test side
    def deliver_custom(self, content: dict[str, Any]) -> None:
        """What the front end's model.send(content) becomes in the kernel."""
        assert self._handler is not None, "the widget never registered a message handler"
        self._handler({"content": {"data": {"method": "custom", "content": content}}, "buffers": []})

    def customs(self) -> list[dict[str, Any]]:
        with self._cond:
            return [m["content"] for m in self.sent if m.get("method") == "custom"]

    def updates(self) -> list[dict[str, Any]]:
        with self._cond:
            return [m["state"] for m in self.sent if m.get("method") == "update"]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until predicate() is truthy (re-checked on every send); return its value."""
        with self._cond:
            value = predicate()
            if not value:
                self._cond.wait_for(predicate, timeout)
                value = predicate()
            return value


def command(view: Any, action: str, **args: Any) -> dict[str, Any]:
    """Send a command the way the front end does and return the kernel's reply."""
    rec: RecordingComm = view.comm
    msg_id = f"cmd-{next(_ids)}"
    rec.deliver_custom({"type": "command", "id": msg_id, "action": action, "args": args})
    replies = [m for m in rec.customs() if m.get("type") == "result" and m.get("id") == msg_id]
    assert len(replies) == 1, f"expected exactly one reply to {action}, got {replies}"
    return replies[0]


def wait_state(view: Any, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Wait until the view's synced state satisfies predicate (re-checked on every send)."""
    value = view.comm.wait_for(predicate, timeout)
    assert value, "the view never reached the expected state"
    return value
