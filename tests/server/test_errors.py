"""The one table from routilux errors to HTTP statuses, and the error body."""

from __future__ import annotations

import pytest
from tornado.web import HTTPError

from routilux.errors import (
    AmbiguousError,
    ConditionError,
    InvalidStateError,
    NotFoundError,
    OwnerTimeoutError,
    OwnerUnavailableError,
    RoutiluxError,
    UnknownRoutineClassError,
    ValidationError,
)
from routilux_jupyter.server.errors import error_response, status_for


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ValidationError, 400),
        (ConditionError, 400),
        (UnknownRoutineClassError, 400),
        (NotFoundError, 404),
        (AmbiguousError, 409),
        (InvalidStateError, 409),
        (OwnerUnavailableError, 503),
        (OwnerTimeoutError, 504),  # the more specific class wins over its base
    ],
)
def test_each_error_class_has_its_status(error, status):
    exc = error("what went wrong and how to fix it", detail={"id": "x"})
    assert status_for(exc) == status
    assert error_response(exc, 500) == (
        status, {"message": "what went wrong and how to fix it", "detail": {"id": "x"}}
    )


def test_unexpected_errors_are_a_generic_500_without_internals():
    status, body = error_response(KeyError("secret internal key"), 500)
    assert status == 500
    assert "secret" not in body["message"] and body["detail"] is None
    assert error_response(RoutiluxError("plain root"), 500)[0] == 500


def test_tornado_errors_keep_their_status_and_message():
    assert error_response(HTTPError(403, "not for you"), 500) == (
        403, {"message": "not for you", "detail": None}
    )
    assert error_response(None, 405)[0] == 405
