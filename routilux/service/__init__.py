"""The routilux API as plain Python (no HTTP, no Jupyter): one method per operation.

:class:`RoutiluxService` is the facade; :class:`Owner` is the seam to whoever holds flows and
jobs (:class:`LocalOwner` for this process); :func:`create_local_service` assembles one.
"""

from routilux.service.bootstrap import ServiceBundle, create_local_service
from routilux.service.history import History
from routilux.service.local_owner import LocalOwner
from routilux.service.owner import Owner, OwnerInfo
from routilux.service.sqlite_history import SQLiteHistory
from routilux.service.service import RoutiluxService

__all__ = [
    "History",
    "LocalOwner",
    "Owner",
    "OwnerInfo",
    "RoutiluxService",
    "SQLiteHistory",
    "ServiceBundle",
    "create_local_service",
]
