"""nbclient in a kernel that a real Jupyter server started (the server is ``tests.support.JupyterProcess``)."""

from __future__ import annotations

from jupyter_client.manager import AsyncKernelManager

__all__ = ["ServerKernelManager"]


class ServerKernelManager(AsyncKernelManager):
    """A kernel the Jupyter server started and owns: nbclient connects to it through its
    connection file, and never starts, restarts or stops it."""

    @property
    def has_kernel(self) -> bool:
        return True

    async def _async_is_alive(self) -> bool:
        # The server watches its kernel; a dead one shows up as a client timeout here.
        return True

    is_alive = _async_is_alive  # type: ignore[assignment]

    async def _async_shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
        """The server shuts its kernels down (DELETE /api/sessions/{id})."""

    shutdown_kernel = _async_shutdown_kernel  # type: ignore[assignment]

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        """Nothing of ours to clean: the connection file belongs to the server."""

    cleanup_resources = _async_cleanup_resources  # type: ignore[assignment]
