"""Sphinx helpers for the routilux docs.

``.. routilux-config:: module.Class`` renders every configurable trait a class defines itself
(name, type, default, help, command-line form) straight from its traitlets, so the configuration
page can never drift from the code. Help texts are inserted as plain text (never parsed as
reStructuredText), exactly as ``jupyter server --help-all`` shows them.
"""

from __future__ import annotations

import importlib
from typing import Any

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

__all__ = ["config_entries", "setup"]


def _is_dynamic(cls: type, name: str) -> bool:
    """Whether the trait's default comes from an ``@default`` method (computed at start)."""
    return any(
        getattr(v, "trait_name", None) == name and type(v).__name__ == "DefaultHandler"
        for v in vars(cls).values()
    )


def config_entries(cls: type) -> list[dict[str, str]]:
    """``{name, type, default, help}`` of ``cls``'s own configurable traits, sorted by name."""
    traits = cls.class_own_traits(config=True)  # type: ignore[attr-defined]
    out = []
    for name in sorted(traits):
        trait = traits[name]
        if _is_dynamic(cls, name):
            default = "computed at start (see the description)"
        else:
            try:
                default = trait.default_value_repr()
            except Exception:
                default = "(none)"
        out.append({"name": name, "type": type(trait).__name__, "default": default,
                    "help": " ".join((trait.help or "").split())})
    return out


class RoutiluxConfigDirective(SphinxDirective):
    """``.. routilux-config:: routilux_jupyter.server.extension.RoutiluxExtension``."""

    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        path = self.arguments[0]
        module_name, _, class_name = path.rpartition(".")
        cls = getattr(importlib.import_module(module_name), class_name)
        dl = nodes.definition_list(classes=["routilux-config"])
        for entry in config_entries(cls):
            name = entry["name"]
            term = nodes.term("", "", ids=[f"config-{class_name.lower()}-{name.replace('_', '-')}"])
            term += nodes.literal(text=f"c.{class_name}.{name}")
            body = nodes.definition()
            kind = nodes.paragraph()
            kind += nodes.emphasis(text=entry["type"])
            kind += nodes.Text(", default ")
            kind += nodes.literal(text=entry["default"])
            body += kind
            body += nodes.paragraph(text=entry["help"] or "(no help text)")
            cli = nodes.paragraph()
            cli += nodes.Text("Command line: ")
            cli += nodes.literal(text=f"--{class_name}.{name}=<value>")
            body += cli
            item = nodes.definition_list_item()
            item += term
            item += body
            dl += item
        return [dl]


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("routilux-config", RoutiluxConfigDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
