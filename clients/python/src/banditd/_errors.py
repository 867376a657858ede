"""Exceptions raised by the banditd clients.

Every failed RPC raises a :class:`BanditdError` subclass chosen by its gRPC
status code, carrying the code and the server's message::

    try:
        client.get_room("missing")
    except banditd.NotFoundError as e:
        print(e.code, e.message)   # StatusCode.NOT_FOUND  room "missing" ...
"""

from __future__ import annotations

from typing import Dict, Optional, Type

import grpc

__all__ = [
    "BanditdError",
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


class BanditdError(Exception):
    """A banditd RPC failed.

    Attributes:
        code: the gRPC status code (a :class:`grpc.StatusCode`).
        message: the server's error message (gRPC status details).
        method: the RPC that failed, for example ``"Sample"``.
    """

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(
        self,
        message: str,
        *,
        code: Optional[grpc.StatusCode] = None,
        method: str = "",
    ) -> None:
        if code is not None:
            self.code = code
        self.message = message
        self.method = method
        where = f"{method}: " if method else ""
        super().__init__(f"{where}{self.code.name}: {message}")

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code.name}, "
            f"message={self.message!r}, method={self.method!r})"
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


def error_for(code: grpc.StatusCode, message: str, method: str = "") -> BanditdError:
    """Returns the exception for a gRPC status code and message."""
    cls = _BY_CODE.get(code, BanditdError)
    return cls(message, code=code, method=method)


def from_rpc_error(err: grpc.RpcError, method: str = "") -> BanditdError:
    """Converts a grpc.RpcError (sync or aio) into a BanditdError."""
    code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
    details = err.details() if hasattr(err, "details") else str(err)
    return error_for(code or grpc.StatusCode.UNKNOWN, details or "", method)
