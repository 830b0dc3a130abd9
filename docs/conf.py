"""Sphinx configuration for the routilux documentation.

Built by ``make docs`` and by ``tests/docs/test_build.py`` with ``-W`` (warnings are errors).
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # the repository root: routilux, routilux_jupyter
sys.path.insert(0, os.path.join(HERE, "_ext"))  # routilux_docs (the configuration directive)

project = "routilux"
author = "routilux developers"
copyright = "2026, routilux developers"  # noqa: A001 - Sphinx's own name

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "routilux_docs",
]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
# Forward references in hints (e.g. "JobState" under TYPE_CHECKING) cannot always be resolved.
nitpicky = False
suppress_warnings = ["ref.python"]
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path = ["_static"]
html_theme_options = {
    "description": "Event-driven workflows you can see and steer from Jupyter",
    "fixed_sidebar": True,
}
# Technical text: keep straight quotes (and "--") as typed, so searches and copies match the code.
smartquotes = False
