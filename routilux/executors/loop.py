"""The one event-loop thread that runs every job's ``async def`` handlers.

Started on first use (``import routilux`` never imports asyncio); a daemon thread, so a script
that ends does not wait for it. All coroutine activations of all jobs share it: thousands of
waiting activations cost one thread, not one each.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

__all__ = ["EventLoopThread", "get_event_loop_thread"]


class EventLoopThread:
    """An asyncio loop running forever on its own daemon thread."""

    def __init__(self, name: str = "routilux-asyncio") -> None:
        import asyncio

        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()
        self._ready.wait()

    def _run(self) -> None:
        import asyncio

        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        self.loop.run_forever()

    @property
    def ident(self) -> int | None:
        """The loop thread's id (callers tell "am I on the loop?" with it)."""
        return self.thread.ident

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the loop thread soon (thread-safe)."""
        self.loop.call_soon_threadsafe(fn, *args)


_lock = threading.Lock()
_instance: EventLoopThread | None = None


def get_event_loop_thread() -> EventLoopThread:
    """The process-wide loop thread, started on first call."""
    global _instance
    inst = _instance
    if inst is None:
        with _lock:
            if _instance is None:
                _instance = EventLoopThread()
            inst = _instance
    return inst
