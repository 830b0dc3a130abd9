"""Helpers shared by the test tiers, bench/ and docs/_tools: import as ``tests.support``.

``tests`` is a namespace package found through the repository root, which is on ``sys.path`` under
the editable install and under ``python -m pytest`` / ``python -m bench`` run from the root.
"""

from __future__ import annotations

from .jupyter_process import JUPYTER, JupyterProcess, jupyter_env, receive_all

__all__ = ["JUPYTER", "JupyterProcess", "jupyter_env", "receive_all"]
