"""Connection: one edge from a routine's event to a routine's slot, with optional renaming."""

from __future__ import annotations

from typing import Any

__all__ = ["Connection"]


class Connection:
    """An edge ``source_routine.source_event -> target_routine.target_slot``.

    ``param_mapping`` is ``{event_param: slot_param}``: mapped keys are renamed, the other keys pass
    through unchanged (a passed-through key never overwrites a renamed one).
    """

    __slots__ = (
        "source_routine", "source_event", "target_routine", "target_slot", "param_mapping",
    )

    def __init__(
        self,
        source_routine: str,
        source_event: str,
        target_routine: str,
        target_slot: str,
        param_mapping: dict[str, str] | None = None,
    ) -> None:
        self.source_routine = source_routine
        self.source_event = source_event
        self.target_routine = target_routine
        self.target_slot = target_slot
        self.param_mapping: dict[str, str] = dict(param_mapping or {})

    @property
    def connection_id(self) -> str:
        """Stable id derived from the endpoints (unique within a flow)."""
        return (
            f"{self.source_routine}.{self.source_event}->{self.target_routine}.{self.target_slot}"
        )

    def apply(self, data: dict[str, Any]) -> dict[str, Any]:
        """Return the payload as the target slot sees it (a new dict when there is a mapping)."""
        mapping = self.param_mapping
        if not mapping:
            return data
        out: dict[str, Any] = {}
        for src, dst in mapping.items():
            if src in data:
                out[dst] = data[src]
        for key, value in data.items():
            if key not in mapping and key not in out:
                out[key] = value
        return out

    def to_dict(self) -> dict[str, Any]:
        """The flow-JSON shape of DESIGN.md §6."""
        return {
            "connection_id": self.connection_id,
            "source_routine": self.source_routine,
            "source_event": self.source_event,
            "target_routine": self.target_routine,
            "target_slot": self.target_slot,
            "param_mapping": dict(self.param_mapping),
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Connection):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(self.connection_id)

    def __repr__(self) -> str:
        extra = f", param_mapping={self.param_mapping!r}" if self.param_mapping else ""
        return f"Connection({self.connection_id!r}{extra})"
