"""Finding the Jupyter server to talk to, and its token.

Order (the first that applies wins):

1. an explicit ``url`` (token: the argument, else ``ROUTILUX_TOKEN`` / ``JUPYTER_TOKEN``, else the
   token of the running server with that URL);
2. ``ROUTILUX_SERVER_URL`` (same token rule);
3. inside a kernel: the running server that owns this kernel (it lists our kernel id), so a
   notebook talks to the server it runs in even when several are running;
4. otherwise: the first running server (``jupyter server list``) whose routilux API answers.

Nothing here imports Jupyter at module level: ``jupyter_server`` and ``ipykernel`` are loaded
only while discovering, so importing the client starts nothing.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from routilux_jupyter.client.errors import ServerNotFoundError

__all__ = ["ServerInfo", "current_kernel_id", "discover", "running_servers"]

ENV_URL = "ROUTILUX_SERVER_URL"
ENV_TOKEN = "ROUTILUX_TOKEN"
_PROBE_TIMEOUT = 5.0
_HOW_TO_FIX = (f"pass --url and --token (or set {ENV_URL} and {ENV_TOKEN}), or start one with "
               "`jupyter lab`; `jupyter server list` shows the running servers and their tokens")


@dataclass(frozen=True)
class ServerInfo:
    """Where a server is: ``url`` (with its base_url and a trailing slash), its token, and how
    it was found (``argument``, ``environment``, ``kernel`` or ``jupyter server list``)."""

    url: str
    token: str
    source: str


def normalize_url(url: str) -> str:
    """``url`` with a scheme and exactly one trailing slash (``localhost:8888`` works too)."""
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    return url.rstrip("/") + "/"


def running_servers() -> list[dict[str, Any]]:
    """The servers ``jupyter server list`` knows of (their info files in the runtime dir)."""
    from jupyter_server.serverapp import list_running_servers

    return list(list_running_servers())


def current_kernel_id() -> str | None:
    """This process's kernel id when it is an IPython kernel, else ``None``."""
    if "ipykernel" not in sys.modules:  # not a kernel: do not import ipykernel to find out
        return None
    try:
        from ipykernel.connect import get_connection_file

        return Path(get_connection_file()).stem.removeprefix("kernel-")
    except (ImportError, RuntimeError, AttributeError):  # imported, but no kernel app running
        return None


def discover(url: str | None = None, token: str | None = None, *,
             env: Mapping[str, str] | None = None, prefix: str = "api") -> ServerInfo:
    """The server to talk to (see the module docstring); :class:`ServerNotFoundError` if none."""
    env = os.environ if env is None else env
    if url:
        return ServerInfo(normalize_url(url), _token_for(url, token, env), "argument")
    if env.get(ENV_URL):
        return ServerInfo(normalize_url(env[ENV_URL]), _token_for(env[ENV_URL], token, env),
                          "environment")
    servers = running_servers()
    kernel_id = current_kernel_id()
    if kernel_id is not None:
        return _own_server(kernel_id, servers)
    return _first_routilux_server(servers, prefix)


def _token_for(url: str, token: str | None, env: Mapping[str, str]) -> str:
    if token is not None:
        return token
    for name in (ENV_TOKEN, "JUPYTER_TOKEN"):
        if env.get(name):
            return env[name]
    # A URL without a token: borrow the one the server wrote into its info file, if it is ours.
    wanted = _same_server_key(normalize_url(url))
    try:
        servers = running_servers()
    except ImportError:
        servers = []
    for info in servers:
        if _same_server_key(normalize_url(str(info.get("url", "")))) == wanted:
            return str(info.get("token") or "")
    return ""


def _same_server_key(url: str) -> tuple[str, str, int | None, str]:
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if host in ("localhost", "::1"):
        host = "127.0.0.1"
    return parts.scheme, host, parts.port, parts.path


def _answers(url: str, token: str, path: str) -> bool:
    request = urllib.request.Request(url + path, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=_PROBE_TIMEOUT) as response:
            return bool(response.status == 200)
    except (OSError, ValueError):  # refused, 403/404 (HTTPError is an OSError), bad URL
        return False


def _own_server(kernel_id: str, servers: Iterable[Mapping[str, Any]]) -> ServerInfo:
    for info in servers:
        url, token = normalize_url(str(info["url"])), str(info.get("token") or "")
        if _answers(url, token, f"api/kernels/{kernel_id}"):
            return ServerInfo(url, token, "kernel")
    raise ServerNotFoundError(
        f"No running Jupyter server owns this kernel ({kernel_id}); open the notebook in "
        f"JupyterLab (`make run`), or {_HOW_TO_FIX}.",
        detail={"kernel_id": kernel_id},
    )


def _first_routilux_server(servers: Sequence[Mapping[str, Any]], prefix: str) -> ServerInfo:
    health = f"{prefix.strip('/')}/health".lstrip("/")
    for info in servers:
        url, token = normalize_url(str(info["url"])), str(info.get("token") or "")
        if _answers(url, token, health):
            return ServerInfo(url, token, "jupyter server list")
    if servers:
        urls = ", ".join(str(s["url"]) for s in servers)
        raise ServerNotFoundError(
            f"None of the running Jupyter servers ({urls}) answered the routilux API with its "
            f"token; is routilux installed in their environment? Otherwise {_HOW_TO_FIX}.",
            detail={"servers": [s["url"] for s in servers]},
        )
    raise ServerNotFoundError(f"No running Jupyter server was found; {_HOW_TO_FIX}.")
