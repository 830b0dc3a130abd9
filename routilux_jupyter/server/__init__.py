"""Server-process half of routilux's Jupyter integration: the ExtensionApp and its handlers.

Routes (under ``c.RoutiluxExtension.prefix``, default ``api``) are listed in
:func:`~routilux_jupyter.server.handlers.rest_routes` and
:func:`~routilux_jupyter.server.websockets.ws_routes`; the error table is
:data:`~routilux_jupyter.server.errors.STATUS_BY_ERROR`.
"""

from routilux_jupyter.server.errors import STATUS_BY_ERROR
from routilux_jupyter.server.extension import RoutiluxExtension

__all__ = ["STATUS_BY_ERROR", "RoutiluxExtension"]
