"""Event: a named output of a routine that connections carry to slots."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from routilux.routine import Routine

__all__ = ["Event"]


class Event:
    """A named output of a routine; ``output_params`` documents the payload keys (optional)."""

    __slots__ = ("name", "routine", "output_params")

    def __init__(
        self, name: str, routine: Routine | None = None, output_params: list[str] | None = None
    ) -> None:
        self.name = name
        self.routine = routine
        self.output_params: list[str] = list(output_params or [])

    def emit(self, **data: Any) -> None:
        """Emit this event from its routine (same as ``routine.emit(name, **data)``)."""
        if self.routine is None:
            from routilux.errors import InvalidStateError

            raise InvalidStateError(
                f"Event {self.name!r} belongs to no routine; define it with routine.define_event()"
            )
        self.routine.emit(self.name, **data)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {"name": self.name, "output_params": list(self.output_params)}

    def __repr__(self) -> str:
        owner = type(self.routine).__name__ if self.routine is not None else None
        return f"Event({self.name!r}, routine={owner})"
