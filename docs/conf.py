"""Sphinx configuration for the routilux documentation."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

project = "routilux"
author = "routilux developers"
copyright = "2026, routilux developers"  # noqa: A001 - Sphinx's own name

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
# Forward references in hints (e.g. "JobState" under TYPE_CHECKING) cannot always be resolved.
nitpicky = False
suppress_warnings = ["ref.python"]
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path = ["_static"]
