"""JSON over HTTP with the Jupyter token: stdlib ``urllib`` only, errors mapped once."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from routilux_jupyter.client.errors import error_from_response, unreachable

__all__ = ["Transport", "segment"]


def segment(value: str) -> str:
    """``value`` quoted as one URL path segment (ids may hold ``/`` or spaces)."""
    return urllib.parse.quote(str(value), safe="")


class Transport:
    """Sends ``METHOD {url}{prefix}/{path}`` and decodes the JSON answer."""

    def __init__(self, url: str, token: str, *, prefix: str = "api", timeout: float = 30.0) -> None:
        self.url = url
        self.token = token
        self.prefix = prefix.strip("/")
        self.timeout = timeout

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"} if self.token else {}

    def api_url(self, path: str, *, scheme: str | None = None) -> str:
        """The absolute URL of ``path`` under the API prefix (``ws``/``wss`` with ``scheme="ws"``)."""
        base = f"{self.url}{self.prefix}/" if self.prefix else self.url
        full = base + path.lstrip("/")
        if scheme == "ws":
            full = "ws" + full[len("http"):] if full.startswith("http") else full
        return full

    def request(self, method: str, path: str, body: Any = None,
                query: Mapping[str, Any] | None = None) -> Any:
        """The decoded JSON answer (``None`` for 204); a routilux error for 4xx/5xx."""
        url = self.api_url(path)
        params = {k: v for k, v in (query or {}).items() if v is not None}
        if params:
            url += "?" + urllib.parse.urlencode(params)
        data = None if body is None else json.dumps(body).encode()
        if data is None and method in ("POST", "PUT"):
            data = b""  # tornado refuses a POST/PUT without a body
        request = urllib.request.Request(url, data=data, method=method, headers={
            **self.headers, "Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as err:
            raise error_from_response(err.code, err.read(), method, url) from None
        except urllib.error.URLError as err:
            raise unreachable(f"Cannot reach {self.url}: {err.reason}; is the Jupyter server "
                              "running? `jupyter server list` shows the running ones.") from None
        except TimeoutError:
            raise unreachable(f"{method} {url} got no answer within {self.timeout} s.") from None
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise unreachable(f"{method} {url} did not answer JSON; is {self.url} a Jupyter "
                              "server with routilux, and is the API prefix right?") from None
