"""Every error status of a real server becomes routilux's error class with the server's reason.

This module's server answers for kernels within 1 s (``bridge_request_timeout``), so a kernel
made slow on purpose gives a real 504.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from routilux.errors import (
    AmbiguousError,
    InvalidStateError,
    NotFoundError,
    OwnerTimeoutError,
    OwnerUnavailableError,
    RoutiluxError,
    ValidationError,
)
from routilux_jupyter.client import Client, ServerUnreachableError
from routilux_jupyter.client.errors import error_from_response
from tests.client.cells import FLOW, LOAD
from tests.kernel.harness import JupyterServer, Kernel, wait_for


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    srv = JupyterServer(tmp_path_factory.mktemp("jupyter"), secrets.token_hex(16),
                        extra_args=("--RoutiluxExtension.bridge_request_timeout=1",))
    yield srv
    srv.stop()


def status_of(exc: BaseException) -> Any:
    return getattr(exc, "status", "missing")


def test_400_is_a_validation_error_with_the_reason(client: Client, gated_job: str,
                                                   kernel: Kernel) -> None:
    with pytest.raises(ValidationError) as err:
        client.add_breakpoint(gated_job, "sink", condition="().__class__")
    assert "attribute access (.__class__) is not allowed" in str(err.value)
    assert status_of(err.value) == 400 and err.value.detail is not None
    with pytest.raises(ValidationError, match="no routine 'nope'"):
        client.add_breakpoint(gated_job, "nope")
    kernel.run("gate.set()")


def test_404_is_not_found(client: Client, kernel: Kernel) -> None:
    with pytest.raises(NotFoundError, match="Job 'no-such' does not exist") as err:
        client.job("no-such")
    assert status_of(err.value) == 404 and err.value.detail == {"job_id": "no-such"}
    with pytest.raises(NotFoundError, match="Flow 'no/such' does not exist"):
        client.flow("no/such")  # one path segment, quoted


def test_409_wrong_state_is_invalid_state(client: Client, gated_job: str, kernel: Kernel) -> None:
    with pytest.raises(InvalidStateError, match="not paused") as err:
        client.step_over(gated_job)
    assert status_of(err.value) == 409 and not isinstance(err.value, AmbiguousError)
    kernel.run("gate.set()")


def test_409_with_candidates_is_ambiguous_and_503_when_the_kernel_left(
        client: Client, server: JupyterServer, kernel: Kernel) -> None:
    kernel.run("twin = make_flow('twin')")
    other = server.start_kernel("nb/other.ipynb")
    try:
        other.run(LOAD)
        other.run(FLOW + "\ntwin = make_flow('twin')")
        wait_for(lambda: sum(f.flow_id == "twin" for f in client.flows()) == 2, 15,
                 "both kernels' flows")
        with pytest.raises(AmbiguousError, match="pass 'kernel_id'") as err:
            client.flow("twin")
        assert status_of(err.value) == 409
        assert {c["kernel_id"] for c in err.value.detail["candidates"]} == {
            kernel.kernel_id, other.kernel_id}
        assert client.flow("twin", kernel_id=other.kernel_id).owner.kernel_id == other.kernel_id

        other.run("%unload_ext routilux")  # the kernel disconnects; its flows stay listed
        with pytest.raises(OwnerUnavailableError) as gone:
            wait_for(lambda: client.flow("twin", kernel_id=other.kernel_id) and False, 15,
                     "the 503 of a disconnected kernel")
        assert status_of(gone.value) == 503 and not isinstance(gone.value, OwnerTimeoutError)
        assert other.kernel_id in str(gone.value)
    finally:
        other.close()
        server.call("DELETE", f"api/kernels/{other.kernel_id}")


def test_504_when_the_kernel_is_too_slow(client: Client, kernel: Kernel, gated_job: str) -> None:
    # The kernel's owner answers metrics 3 s late; the server waits 1 s for it.
    kernel.run("import time\nfrom routilux_jupyter.kernel.session import current_session\n"
               "_owner = current_session().owner\n_orig = _owner.get_metrics\n"
               "_owner.get_metrics = lambda job_id: (time.sleep(3), _orig(job_id))[1]")
    try:
        with pytest.raises(OwnerTimeoutError) as err:
            client.metrics(gated_job)
        assert status_of(err.value) == 504 and isinstance(err.value, OwnerUnavailableError)
    finally:
        kernel.run("_owner.get_metrics = _orig\ngate.set()")


def test_403_names_the_token_fix(server: JupyterServer) -> None:
    with pytest.raises(RoutiluxError) as err:
        Client(server.url, "wrong-token").jobs()
    assert type(err.value) is RoutiluxError and status_of(err.value) == 403
    assert "token" in str(err.value) and "--token" in str(err.value)


def test_wrong_prefix_and_no_server(server: JupyterServer) -> None:
    with pytest.raises(NotFoundError, match="is the API prefix right"):
        Client(server.url, server.token, prefix="not-routilux").health()
    with pytest.raises(ServerUnreachableError, match="Cannot reach http://127.0.0.1:9/") as err:
        Client("http://127.0.0.1:9/", "x").health()
    assert status_of(err.value) is None and isinstance(err.value, RoutiluxError)


@pytest.mark.parametrize(("status", "cls"), [
    (400, ValidationError), (404, NotFoundError), (409, InvalidStateError),
    (503, OwnerUnavailableError), (504, OwnerTimeoutError), (500, RoutiluxError),
    (502, RoutiluxError), (418, RoutiluxError),
])
def test_status_table(status: int, cls: type[RoutiluxError]) -> None:
    """The same table as the server's (routilux_jupyter.server.errors), read backwards."""
    error = error_from_response(status, b'{"message": "why", "detail": {"k": 1}}', "GET", "u")
    assert type(error) is cls and str(error) == "why" and error.detail == {"k": 1}
    assert status_of(error) == status


def test_table_agrees_with_the_server() -> None:
    from routilux_jupyter.server.errors import STATUS_BY_ERROR

    for cls, status in STATUS_BY_ERROR.items():
        # The server tells the two 409s apart by listing candidates for an ambiguous id.
        detail = '{"candidates": []}' if cls is AmbiguousError else "null"
        body = ('{"message": "m", "detail": %s}' % detail).encode()
        assert type(error_from_response(status, body, "GET", "u")) is cls, cls
