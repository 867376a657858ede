"""Python client for banditd, the multi-armed bandit decision service.

    import banditd

    with banditd.Client("localhost:50051") as client:
        client.create_room("home", ["red", "green"], policy="thompson")
        arm = client.sample("home").best
        client.feedback("home", arm, views=1, clicks=1)
        client.stats("home").to_dataframe()

:class:`AsyncClient` offers the same methods over ``grpc.aio``. Failed calls
raise :class:`BanditdError` subclasses carrying the gRPC code and the server's
message. The generated protobuf modules are ``banditd.v1.banditd_pb2`` and
``banditd.v1.banditd_pb2_grpc``.
"""

from ._aio import AsyncClient
from ._client import Client
from ._session import AsyncSession, Session
from ._errors import *  # noqa: F401,F403
from ._errors import __all__ as _errors_all
from ._ops import DEFAULT_TARGET, DEFAULT_TIMEOUT, RetryPolicy
from ._types import (
    Arm,
    ArmStats,
    ContextStats,
    Counts,
    Decay,
    FeedbackEvent,
    FeedbackResult,
    LinUcbConfig,
    Policy,
    PolicyType,
    Room,
    SampleResult,
    ScoredArm,
    Stats,
    ArmWinner,
    WinnerOptions,
    WinnerSummary,
)

__version__ = "0.1.0"

__all__ = [
    "Client",
    "AsyncClient",
    "AsyncSession",
    "Session",
    "RetryPolicy",
    "DEFAULT_TARGET",
    "DEFAULT_TIMEOUT",
    "Arm",
    "ArmStats",
    "ContextStats",
    "Counts",
    "Decay",
    "LinUcbConfig",
    "FeedbackEvent",
    "FeedbackResult",
    "Policy",
    "PolicyType",
    "Room",
    "SampleResult",
    "ScoredArm",
    "Stats",
    "ArmWinner",
    "WinnerOptions",
    "WinnerSummary",
    *_errors_all,
]
