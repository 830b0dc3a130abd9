"""A few general routines, registered under their class names for the DSL."""

from __future__ import annotations

from typing import Any

from routilux.registry import register_routine
from routilux.routine import Routine

__all__ = ["Collector", "Mapper", "PassThrough", "Splitter"]


@register_routine
class PassThrough(Routine):
    """Emits ``output`` with exactly the payload its ``trigger`` received."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("output")

    def run(self, **data: Any) -> None:
        self.emit("output", **data)


@register_routine
class Mapper(Routine):
    """Renames payload keys: config ``mapping`` is ``{output_key: input_key}``.

    Config ``keep_unmapped`` (default ``False``) also passes the keys no mapping mentions.
    """

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("output")

    def run(self, **data: Any) -> None:
        mapping: dict[str, str] = self.get_config("mapping", {}) or {}
        out = {dst: data[src] for dst, src in mapping.items() if src in data}
        if self.get_config("keep_unmapped", False):
            used = set(mapping.values())
            for key, value in data.items():
                if key not in used and key not in out:
                    out[key] = value
        self.emit("output", **out)


@register_routine
class Splitter(Routine):
    """Emits ``item`` once per element of payload key ``key`` (config, default ``items``)."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)
        self.define_event("item", ["item", "index"])

    def run(self, **data: Any) -> None:
        for index, item in enumerate(data.get(self.get_config("key", "items")) or ()):
            self.emit("item", item=item, index=index)


@register_routine
class Collector(Routine):
    """Appends each payload to the job's ``shared_data[key]`` (config ``key``, default ``collected``)."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", self.run)

    def run(self, **data: Any) -> None:
        js = self.job_state
        if js is not None:
            js.shared_data.setdefault(self.get_config("key", "collected"), []).append(data)
