"""Who this kernel process is: kernel id, notebook path, and a per-process instance id."""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass

__all__ = ["KernelIdentity", "current_identity"]

_CONNECTION_FILE = re.compile(r"^kernel-(.+)\.json$")
# One per process: a restarted kernel keeps its kernel id but gets a new instance id, which is
# how the server tells "the same process reconnecting" from "a new process: the old one's jobs
# are lost".
_INSTANCE_ID = uuid.uuid4().hex


@dataclass(frozen=True)
class KernelIdentity:
    """What the agent announces to the server."""

    kernel_id: str
    instance_id: str
    notebook_path: str | None
    pid: int


def _kernel_id() -> str:
    """The id in ipykernel's connection file name (``kernel-<id>.json``), else ``pid-<pid>``."""
    try:
        from ipykernel.connect import get_connection_file

        name = os.path.basename(get_connection_file())
    except Exception:  # not inside an ipykernel (plain IPython, tests): still give a stable id
        return f"pid-{os.getpid()}"
    match = _CONNECTION_FILE.match(name)
    return match.group(1) if match else os.path.splitext(name)[0]


def current_identity() -> KernelIdentity:
    """This process's identity; the notebook path is the one jupyter_server gave its session."""
    # jupyter_server's SessionManager.get_kernel_env puts the session path in JPY_SESSION_NAME.
    notebook = os.environ.get("JPY_SESSION_NAME") or None
    return KernelIdentity(_kernel_id(), _INSTANCE_ID, notebook, os.getpid())
