"""The kernel's routilux session: registration, magics and agent, set up by ``%load_ext``.

One per kernel process. Loading twice is harmless (each part is idempotent); unloading stops the
agent and the registration but keeps what was registered, so loading again picks up from there.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from routilux.service.owner import OwnerInfo
from routilux_jupyter.kernel.agent import BridgeAgent
from routilux_jupyter.kernel.identity import KernelIdentity, current_identity
from routilux_jupyter.kernel.registration import KernelRegistration
from routilux_jupyter.protocol import BRIDGE_SECRET_ENV, BRIDGE_URL_ENV

__all__ = ["KernelSession", "current_session", "load", "unload"]

log = logging.getLogger("routilux.kernel")


@dataclass
class KernelSession:
    """Everything ``%load_ext routilux`` set up in this kernel."""

    registration: KernelRegistration
    identity: KernelIdentity
    agent: BridgeAgent | None = None
    bridge_url: str | None = None
    bridge_secret: str | None = field(default=None, repr=False)
    magics_registered: bool = False
    dashboard_announced: bool = False

    @property
    def owner(self) -> Any:
        return self.registration.owner


_session: KernelSession | None = None
_lock = threading.Lock()


def current_session() -> KernelSession | None:
    """The session of this kernel, or ``None`` before ``%load_ext routilux``."""
    return _session


def _bridge_env(session: KernelSession) -> None:
    """Take the bridge URL and secret from the environment the server gave this kernel.

    The secret is moved out of ``os.environ`` so processes started from cells do not inherit it.
    """
    url = os.environ.get(BRIDGE_URL_ENV)
    secret = os.environ.pop(BRIDGE_SECRET_ENV, None)
    if url:
        session.bridge_url = url
    if secret:
        session.bridge_secret = secret


def _at_exit() -> None:
    """Disconnect before the interpreter tears down modules.

    Job threads may still run during shutdown and fail on half-cleared globals; those failures
    must not reach the server as the jobs' outcome. Closing first makes the server record the
    unfinished jobs as ``lost``, which is what happened to them.
    """
    session = _session
    agent = session.agent if session is not None else None
    if agent is not None:
        agent.stop(timeout=1.0)


_exit_hook = False


def load(ipython: Any = None) -> KernelSession:
    """Monitoring on, flows and jobs registered, magics in, agent started when bridged."""
    global _session, _exit_hook
    from routilux.monitoring import MonitoringRegistry

    monitoring = MonitoringRegistry.enable()
    with _lock:
        session = _session
        if session is None:
            identity = current_identity()
            info = OwnerInfo("kernel", identity.kernel_id, identity.notebook_path)
            session = _session = KernelSession(KernelRegistration(monitoring, info), identity)
        _bridge_env(session)
        session.registration.install()
        if ipython is not None and not session.magics_registered:
            from routilux_jupyter.kernel.magics import RoutiluxMagics

            ipython.register_magics(RoutiluxMagics)
            session.magics_registered = True
        agent = session.agent
        if (agent is None or not agent.running) and session.bridge_url and session.bridge_secret:
            agent = session.agent = BridgeAgent(
                session.bridge_url, session.bridge_secret, session.registration, session.identity
            )
            agent.start()
            if not _exit_hook:
                atexit.register(_at_exit)
                _exit_hook = True
    return session


def unload(ipython: Any = None) -> None:
    """Stop the agent and the registration, remove the magics (``%unload_ext routilux``)."""
    with _lock:
        session = _session
        if session is None:
            return
        agent, session.agent = session.agent, None
        if agent is not None:
            agent.stop()
        session.registration.uninstall()
        if ipython is not None and session.magics_registered:
            line_magics = ipython.magics_manager.magics.get("line", {})
            line_magics.pop("routilux", None)
            session.magics_registered = False
