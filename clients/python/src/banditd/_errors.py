"""Exceptions raised by the banditd clients.

Every failed RPC raises a :class:`BanditdError` subclass chosen by its gRPC
status code, carrying the code and the server's message::

    try:
        client.get_room("missing")
    except banditd.NotFoundError as e:
        print(e.code, e.message)   # StatusCode.NOT_FOUND  room "missing" ...

When a request field is at fault the error also names it as data, from the
``google.rpc.BadRequest`` in the status details, so code need not parse the
message::

    except banditd.InvalidArgumentError as e:
        for v in e.field_violations:
            print(v.field, v.description)   # events[3].views  must be in ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence, Tuple, Type

import grpc
from google.rpc import error_details_pb2, status_pb2

__all__ = [
    "BanditdError",
    "FieldViolation",
    "CancelledError",
    "UnknownError",
    "InvalidArgumentError",
    "DeadlineExceededError",
    "NotFoundError",
    "AlreadyExistsError",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "FailedPreconditionError",
    "AbortedError",
    "OutOfRangeError",
    "UnimplementedError",
    "InternalError",
    "UnavailableError",
    "DataLossError",
    "UnauthenticatedError",
]


@dataclass(frozen=True)
class FieldViolation:
    """One request field at fault (a ``google.rpc.BadRequest.FieldViolation``).

    Attributes:
        field: path of the field, for example ``"events[3].arm_id"``.
        description: what is wrong with it.
    """

    field: str
    description: str


class BanditdError(Exception):
    """A banditd RPC failed.

    Attributes:
        code: the gRPC status code (a :class:`grpc.StatusCode`).
        message: the server's error message (gRPC status details).
        method: the RPC that failed, for example ``"Sample"``.
        field_violations: the request fields at fault, from the status's
            ``google.rpc.BadRequest`` details; empty when no field is.
    """

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(
        self,
        message: str,
        *,
        code: Optional[grpc.StatusCode] = None,
        method: str = "",
        field_violations: Sequence[FieldViolation] = (),
    ) -> None:
        if code is not None:
            self.code = code
        self.message = message
        self.method = method
        self.field_violations: Tuple[FieldViolation, ...] = tuple(field_violations)
        where = f"{method}: " if method else ""
        super().__init__(f"{where}{self.code.name}: {message}")

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code.name}, "
            f"message={self.message!r}, method={self.method!r}"
            + (f", field_violations={list(self.field_violations)!r}" if self.field_violations else "")
            + ")"
        )


def _subclass(name: str, code: grpc.StatusCode, doc: str) -> Type[BanditdError]:
    return type(name, (BanditdError,), {"code": code, "__doc__": doc})


CancelledError = _subclass("CancelledError", grpc.StatusCode.CANCELLED, "The call was cancelled.")
UnknownError = _subclass("UnknownError", grpc.StatusCode.UNKNOWN, "Unknown server error.")
InvalidArgumentError = _subclass(
    "InvalidArgumentError",
    grpc.StatusCode.INVALID_ARGUMENT,
    "A bad id, parameter or event; the message names the field.",
)
DeadlineExceededError = _subclass(
    "DeadlineExceededError", grpc.StatusCode.DEADLINE_EXCEEDED, "The call's deadline passed."
)
NotFoundError = _subclass("NotFoundError", grpc.StatusCode.NOT_FOUND, "Unknown room or arm.")
AlreadyExistsError = _subclass(
    "AlreadyExistsError", grpc.StatusCode.ALREADY_EXISTS, "The room or arm already exists."
)
PermissionDeniedError = _subclass(
    "PermissionDeniedError", grpc.StatusCode.PERMISSION_DENIED, "Permission denied."
)
ResourceExhaustedError = _subclass(
    "ResourceExhaustedError",
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    "A limit was hit (for example a message or batch too large).",
)
FailedPreconditionError = _subclass(
    "FailedPreconditionError",
    grpc.StatusCode.FAILED_PRECONDITION,
    "The server is not in a state to perform the call.",
)
AbortedError = _subclass("AbortedError", grpc.StatusCode.ABORTED, "The call was aborted.")
OutOfRangeError = _subclass("OutOfRangeError", grpc.StatusCode.OUT_OF_RANGE, "Out of range.")
UnimplementedError = _subclass(
    "UnimplementedError", grpc.StatusCode.UNIMPLEMENTED, "The server does not implement the call."
)
InternalError = _subclass("InternalError", grpc.StatusCode.INTERNAL, "Internal server error.")
UnavailableError = _subclass(
    "UnavailableError",
    grpc.StatusCode.UNAVAILABLE,
    "The server could not be reached (retried with backoff before raising).",
)
DataLossError = _subclass("DataLossError", grpc.StatusCode.DATA_LOSS, "Data loss.")
UnauthenticatedError = _subclass(
    "UnauthenticatedError", grpc.StatusCode.UNAUTHENTICATED, "Unauthenticated."
)

_BY_CODE: Dict[grpc.StatusCode, Type[BanditdError]] = {
    cls.code: cls
    for cls in (
        CancelledError,
        UnknownError,
        InvalidArgumentError,
        DeadlineExceededError,
        NotFoundError,
        AlreadyExistsError,
        PermissionDeniedError,
        ResourceExhaustedError,
        FailedPreconditionError,
        AbortedError,
        OutOfRangeError,
        UnimplementedError,
        InternalError,
        UnavailableError,
        DataLossError,
        UnauthenticatedError,
    )
}


def error_for(
    code: grpc.StatusCode,
    message: str,
    method: str = "",
    field_violations: Sequence[FieldViolation] = (),
) -> BanditdError:
    """Returns the exception for a gRPC status code and message."""
    cls = _BY_CODE.get(code, BanditdError)
    return cls(message, code=code, method=method, field_violations=field_violations)


# Trailing metadata key of the serialized google.rpc.Status (gRPC's
# convention for rich error details).
_STATUS_DETAILS_KEY = "grpc-status-details-bin"


def field_violations_of(trailing_metadata: Any) -> Tuple[FieldViolation, ...]:
    """The BadRequest field violations in a call's trailing metadata."""
    for key, value in trailing_metadata or ():
        if key != _STATUS_DETAILS_KEY:
            continue
        status = status_pb2.Status()
        try:
            status.ParseFromString(value)
        except Exception:  # a malformed trailer is not worth an exception
            return ()
        out = []
        for detail in status.details:
            bad_request = error_details_pb2.BadRequest()
            if detail.Unpack(bad_request):
                out.extend(FieldViolation(v.field, v.description) for v in bad_request.field_violations)
        return tuple(out)
    return ()


def from_rpc_error(err: grpc.RpcError, method: str = "") -> BanditdError:
    """Converts a grpc.RpcError (sync or aio) into a BanditdError."""
    code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
    details = err.details() if hasattr(err, "details") else str(err)
    trailing = err.trailing_metadata() if hasattr(err, "trailing_metadata") else None
    return error_for(code or grpc.StatusCode.UNKNOWN, details or "", method, field_violations_of(trailing))
