from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PolicyType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POLICY_TYPE_UNSPECIFIED: _ClassVar[PolicyType]
    POLICY_TYPE_CTR: _ClassVar[PolicyType]
    POLICY_TYPE_UCB1: _ClassVar[PolicyType]
    POLICY_TYPE_BUCB: _ClassVar[PolicyType]
    POLICY_TYPE_THOMPSON: _ClassVar[PolicyType]
    POLICY_TYPE_EPSILON_GREEDY: _ClassVar[PolicyType]
    POLICY_TYPE_HOT_COLD: _ClassVar[PolicyType]
    POLICY_TYPE_REWARD_UCB: _ClassVar[PolicyType]
    POLICY_TYPE_REWARD_THOMPSON: _ClassVar[PolicyType]
    POLICY_TYPE_LINUCB: _ClassVar[PolicyType]
    POLICY_TYPE_KL_UCB: _ClassVar[PolicyType]
    POLICY_TYPE_LIN_TS: _ClassVar[PolicyType]

class RoomView(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROOM_VIEW_UNSPECIFIED: _ClassVar[RoomView]
    ROOM_VIEW_BASIC: _ClassVar[RoomView]
    ROOM_VIEW_FULL: _ClassVar[RoomView]
POLICY_TYPE_UNSPECIFIED: PolicyType
POLICY_TYPE_CTR: PolicyType
POLICY_TYPE_UCB1: PolicyType
POLICY_TYPE_BUCB: PolicyType
POLICY_TYPE_THOMPSON: PolicyType
POLICY_TYPE_EPSILON_GREEDY: PolicyType
POLICY_TYPE_HOT_COLD: PolicyType
POLICY_TYPE_REWARD_UCB: PolicyType
POLICY_TYPE_REWARD_THOMPSON: PolicyType
POLICY_TYPE_LINUCB: PolicyType
POLICY_TYPE_KL_UCB: PolicyType
POLICY_TYPE_LIN_TS: PolicyType
ROOM_VIEW_UNSPECIFIED: RoomView
ROOM_VIEW_BASIC: RoomView
ROOM_VIEW_FULL: RoomView

class Policy(_message.Message):
    __slots__ = ("type", "ucb_alpha", "bucb_z", "beta_prior_a", "beta_prior_b", "epsilon", "cold_max", "cold_steepness", "cold_threshold", "hot_max", "hot_steepness", "hot_threshold", "linucb_alpha", "prior_pseudo_views", "exploration_floor")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    UCB_ALPHA_FIELD_NUMBER: _ClassVar[int]
    BUCB_Z_FIELD_NUMBER: _ClassVar[int]
    BETA_PRIOR_A_FIELD_NUMBER: _ClassVar[int]
    BETA_PRIOR_B_FIELD_NUMBER: _ClassVar[int]
    EPSILON_FIELD_NUMBER: _ClassVar[int]
    COLD_MAX_FIELD_NUMBER: _ClassVar[int]
    COLD_STEEPNESS_FIELD_NUMBER: _ClassVar[int]
    COLD_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    HOT_MAX_FIELD_NUMBER: _ClassVar[int]
    HOT_STEEPNESS_FIELD_NUMBER: _ClassVar[int]
    HOT_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    LINUCB_ALPHA_FIELD_NUMBER: _ClassVar[int]
    PRIOR_PSEUDO_VIEWS_FIELD_NUMBER: _ClassVar[int]
    EXPLORATION_FLOOR_FIELD_NUMBER: _ClassVar[int]
    type: PolicyType
    ucb_alpha: float
    bucb_z: float
    beta_prior_a: float
    beta_prior_b: float
    epsilon: float
    cold_max: float
    cold_steepness: float
    cold_threshold: float
    hot_max: float
    hot_steepness: float
    hot_threshold: float
    linucb_alpha: float
    prior_pseudo_views: float
    exploration_floor: float
    def __init__(self, type: _Optional[_Union[PolicyType, str]] = ..., ucb_alpha: _Optional[float] = ..., bucb_z: _Optional[float] = ..., beta_prior_a: _Optional[float] = ..., beta_prior_b: _Optional[float] = ..., epsilon: _Optional[float] = ..., cold_max: _Optional[float] = ..., cold_steepness: _Optional[float] = ..., cold_threshold: _Optional[float] = ..., hot_max: _Optional[float] = ..., hot_steepness: _Optional[float] = ..., hot_threshold: _Optional[float] = ..., linucb_alpha: _Optional[float] = ..., prior_pseudo_views: _Optional[float] = ..., exploration_floor: _Optional[float] = ...) -> None: ...

class Decay(_message.Message):
    __slots__ = ("half_life_events", "half_life_seconds")
    HALF_LIFE_EVENTS_FIELD_NUMBER: _ClassVar[int]
    HALF_LIFE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    half_life_events: float
    half_life_seconds: float
    def __init__(self, half_life_events: _Optional[float] = ..., half_life_seconds: _Optional[float] = ...) -> None: ...

class LinUcbConfig(_message.Message):
    __slots__ = ("dimension",)
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    LAMBDA_FIELD_NUMBER: _ClassVar[int]
    dimension: int
    def __init__(self, dimension: _Optional[int] = ..., **kwargs) -> None: ...

class Arm(_message.Message):
    __slots__ = ("arm_id", "enabled")
    ARM_ID_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    arm_id: str
    enabled: bool
    def __init__(self, arm_id: _Optional[str] = ..., enabled: _Optional[bool] = ...) -> None: ...

class Room(_message.Message):
    __slots__ = ("room_id", "arms", "policy", "decay", "linucb", "arm_count", "next_arms_page_token")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    ARMS_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    DECAY_FIELD_NUMBER: _ClassVar[int]
    LINUCB_FIELD_NUMBER: _ClassVar[int]
    ARM_COUNT_FIELD_NUMBER: _ClassVar[int]
    NEXT_ARMS_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    arms: _containers.RepeatedCompositeFieldContainer[Arm]
    policy: Policy
    decay: Decay
    linucb: LinUcbConfig
    arm_count: int
    next_arms_page_token: str
    def __init__(self, room_id: _Optional[str] = ..., arms: _Optional[_Iterable[_Union[Arm, _Mapping]]] = ..., policy: _Optional[_Union[Policy, _Mapping]] = ..., decay: _Optional[_Union[Decay, _Mapping]] = ..., linucb: _Optional[_Union[LinUcbConfig, _Mapping]] = ..., arm_count: _Optional[int] = ..., next_arms_page_token: _Optional[str] = ...) -> None: ...

class Counts(_message.Message):
    __slots__ = ("views", "clicks", "reward_sum")
    VIEWS_FIELD_NUMBER: _ClassVar[int]
    CLICKS_FIELD_NUMBER: _ClassVar[int]
    REWARD_SUM_FIELD_NUMBER: _ClassVar[int]
    views: float
    clicks: float
    reward_sum: float
    def __init__(self, views: _Optional[float] = ..., clicks: _Optional[float] = ..., reward_sum: _Optional[float] = ...) -> None: ...

class CreateRoomRequest(_message.Message):
    __slots__ = ("room_id", "arm_ids", "policy", "decay", "linucb")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    ARM_IDS_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    DECAY_FIELD_NUMBER: _ClassVar[int]
    LINUCB_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    arm_ids: _containers.RepeatedScalarFieldContainer[str]
    policy: Policy
    decay: Decay
    linucb: LinUcbConfig
    def __init__(self, room_id: _Optional[str] = ..., arm_ids: _Optional[_Iterable[str]] = ..., policy: _Optional[_Union[Policy, _Mapping]] = ..., decay: _Optional[_Union[Decay, _Mapping]] = ..., linucb: _Optional[_Union[LinUcbConfig, _Mapping]] = ...) -> None: ...

class CreateRoomResponse(_message.Message):
    __slots__ = ("room",)
    ROOM_FIELD_NUMBER: _ClassVar[int]
    room: Room
    def __init__(self, room: _Optional[_Union[Room, _Mapping]] = ...) -> None: ...

class GetRoomRequest(_message.Message):
    __slots__ = ("room_id", "view")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    view: RoomView
    def __init__(self, room_id: _Optional[str] = ..., view: _Optional[_Union[RoomView, str]] = ...) -> None: ...

class GetRoomResponse(_message.Message):
    __slots__ = ("room",)
    ROOM_FIELD_NUMBER: _ClassVar[int]
    room: Room
    def __init__(self, room: _Optional[_Union[Room, _Mapping]] = ...) -> None: ...

class ListRoomsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "view")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    view: RoomView
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., view: _Optional[_Union[RoomView, str]] = ...) -> None: ...

class ListRoomsResponse(_message.Message):
    __slots__ = ("rooms", "next_page_token")
    ROOMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    rooms: _containers.RepeatedCompositeFieldContainer[Room]
    next_page_token: str
    def __init__(self, rooms: _Optional[_Iterable[_Union[Room, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteRoomRequest(_message.Message):
    __slots__ = ("room_id",)
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    def __init__(self, room_id: _Optional[str] = ...) -> None: ...

class DeleteRoomResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ResetRoomRequest(_message.Message):
    __slots__ = ("room_id",)
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    def __init__(self, room_id: _Optional[str] = ...) -> None: ...

class ResetRoomResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class UpdateRoomRequest(_message.Message):
    __slots__ = ("room", "update_mask")
    ROOM_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    room: Room
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, room: _Optional[_Union[Room, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateRoomResponse(_message.Message):
    __slots__ = ("room",)
    ROOM_FIELD_NUMBER: _ClassVar[int]
    room: Room
    def __init__(self, room: _Optional[_Union[Room, _Mapping]] = ...) -> None: ...

class AddArmsRequest(_message.Message):
    __slots__ = ("room_id", "arm_ids")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    ARM_IDS_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    arm_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, room_id: _Optional[str] = ..., arm_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class AddArmsResponse(_message.Message):
    __slots__ = ("room",)
    ROOM_FIELD_NUMBER: _ClassVar[int]
    room: Room
    def __init__(self, room: _Optional[_Union[Room, _Mapping]] = ...) -> None: ...

class ListArmsRequest(_message.Message):
    __slots__ = ("room_id", "page_size", "page_token")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    page_size: int
    page_token: str
    def __init__(self, room_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListArmsResponse(_message.Message):
    __slots__ = ("arms", "next_page_token", "total_size")
    ARMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    arms: _containers.RepeatedCompositeFieldContainer[Arm]
    next_page_token: str
    total_size: int
    def __init__(self, arms: _Optional[_Iterable[_Union[Arm, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class RemoveArmRequest(_message.Message):
    __slots__ = ("room_id", "arm_id")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    ARM_ID_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    arm_id: str
    def __init__(self, room_id: _Optional[str] = ..., arm_id: _Optional[str] = ...) -> None: ...

class RemoveArmResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SetArmEnabledRequest(_message.Message):
    __slots__ = ("room_id", "arm_id", "enabled")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    ARM_ID_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    arm_id: str
    enabled: bool
    def __init__(self, room_id: _Optional[str] = ..., arm_id: _Optional[str] = ..., enabled: _Optional[bool] = ...) -> None: ...

class SetArmEnabledResponse(_message.Message):
    __slots__ = ("arm",)
    ARM_FIELD_NUMBER: _ClassVar[int]
    arm: Arm
    def __init__(self, arm: _Optional[_Union[Arm, _Mapping]] = ...) -> None: ...

class ResetArmRequest(_message.Message):
    __slots__ = ("room_id", "arm_id", "segment")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    ARM_ID_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    arm_id: str
    segment: str
    def __init__(self, room_id: _Optional[str] = ..., arm_id: _Optional[str] = ..., segment: _Optional[str] = ...) -> None: ...

class ResetArmResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SampleRequest(_message.Message):
    __slots__ = ("room_id", "segment", "context_items", "k", "policy", "candidate_arm_ids", "excluded_arm_ids", "seed", "features", "include_propensities", "propensity_draws", "min_applied_sequence")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_ITEMS_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_ARM_IDS_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_ARM_IDS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_PROPENSITIES_FIELD_NUMBER: _ClassVar[int]
    PROPENSITY_DRAWS_FIELD_NUMBER: _ClassVar[int]
    MIN_APPLIED_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    segment: str
    context_items: _containers.RepeatedScalarFieldContainer[str]
    k: int
    policy: Policy
    candidate_arm_ids: _containers.RepeatedScalarFieldContainer[str]
    excluded_arm_ids: _containers.RepeatedScalarFieldContainer[str]
    seed: int
    features: _containers.RepeatedScalarFieldContainer[float]
    include_propensities: bool
    propensity_draws: int
    min_applied_sequence: int
    def __init__(self, room_id: _Optional[str] = ..., segment: _Optional[str] = ..., context_items: _Optional[_Iterable[str]] = ..., k: _Optional[int] = ..., policy: _Optional[_Union[Policy, _Mapping]] = ..., candidate_arm_ids: _Optional[_Iterable[str]] = ..., excluded_arm_ids: _Optional[_Iterable[str]] = ..., seed: _Optional[int] = ..., features: _Optional[_Iterable[float]] = ..., include_propensities: _Optional[bool] = ..., propensity_draws: _Optional[int] = ..., min_applied_sequence: _Optional[int] = ...) -> None: ...

class ScoredArm(_message.Message):
    __slots__ = ("arm_id", "score", "counts", "propensity")
    ARM_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    PROPENSITY_FIELD_NUMBER: _ClassVar[int]
    arm_id: str
    score: float
    counts: Counts
    propensity: float
    def __init__(self, arm_id: _Optional[str] = ..., score: _Optional[float] = ..., counts: _Optional[_Union[Counts, _Mapping]] = ..., propensity: _Optional[float] = ...) -> None: ...

class SampleResponse(_message.Message):
    __slots__ = ("arms", "policy", "decision_id", "propensity_draws")
    ARMS_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    PROPENSITY_DRAWS_FIELD_NUMBER: _ClassVar[int]
    arms: _containers.RepeatedCompositeFieldContainer[ScoredArm]
    policy: Policy
    decision_id: str
    propensity_draws: int
    def __init__(self, arms: _Optional[_Iterable[_Union[ScoredArm, _Mapping]]] = ..., policy: _Optional[_Union[Policy, _Mapping]] = ..., decision_id: _Optional[str] = ..., propensity_draws: _Optional[int] = ...) -> None: ...

class FeedbackEvent(_message.Message):
    __slots__ = ("room_id", "segment", "context_items", "arm_id", "views", "clicks", "reward", "event_id", "decision_id", "features")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_ITEMS_FIELD_NUMBER: _ClassVar[int]
    ARM_ID_FIELD_NUMBER: _ClassVar[int]
    VIEWS_FIELD_NUMBER: _ClassVar[int]
    CLICKS_FIELD_NUMBER: _ClassVar[int]
    REWARD_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    segment: str
    context_items: _containers.RepeatedScalarFieldContainer[str]
    arm_id: str
    views: int
    clicks: int
    reward: float
    event_id: str
    decision_id: str
    features: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, room_id: _Optional[str] = ..., segment: _Optional[str] = ..., context_items: _Optional[_Iterable[str]] = ..., arm_id: _Optional[str] = ..., views: _Optional[int] = ..., clicks: _Optional[int] = ..., reward: _Optional[float] = ..., event_id: _Optional[str] = ..., decision_id: _Optional[str] = ..., features: _Optional[_Iterable[float]] = ...) -> None: ...

class FeedbackRequest(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[FeedbackEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[FeedbackEvent, _Mapping]]] = ...) -> None: ...

class FeedbackResponse(_message.Message):
    __slots__ = ("applied_events", "duplicate_events", "applied_sequence")
    APPLIED_EVENTS_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_EVENTS_FIELD_NUMBER: _ClassVar[int]
    APPLIED_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    applied_events: int
    duplicate_events: int
    applied_sequence: int
    def __init__(self, applied_events: _Optional[int] = ..., duplicate_events: _Optional[int] = ..., applied_sequence: _Optional[int] = ...) -> None: ...

class GetStatsRequest(_message.Message):
    __slots__ = ("room_id", "segment", "include_context", "winner_analysis", "min_applied_sequence", "page_size", "page_token", "arm_ids")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    WINNER_ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    MIN_APPLIED_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ARM_IDS_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    segment: str
    include_context: bool
    winner_analysis: WinnerAnalysisRequest
    min_applied_sequence: int
    page_size: int
    page_token: str
    arm_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, room_id: _Optional[str] = ..., segment: _Optional[str] = ..., include_context: _Optional[bool] = ..., winner_analysis: _Optional[_Union[WinnerAnalysisRequest, _Mapping]] = ..., min_applied_sequence: _Optional[int] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., arm_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class WinnerAnalysisRequest(_message.Message):
    __slots__ = ("draws", "seed", "loss_threshold")
    DRAWS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    LOSS_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    draws: int
    seed: int
    loss_threshold: float
    def __init__(self, draws: _Optional[int] = ..., seed: _Optional[int] = ..., loss_threshold: _Optional[float] = ...) -> None: ...

class ArmWinner(_message.Message):
    __slots__ = ("prob_best", "prob_best_se", "expected_loss", "expected_loss_se")
    PROB_BEST_FIELD_NUMBER: _ClassVar[int]
    PROB_BEST_SE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_LOSS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_LOSS_SE_FIELD_NUMBER: _ClassVar[int]
    prob_best: float
    prob_best_se: float
    expected_loss: float
    expected_loss_se: float
    def __init__(self, prob_best: _Optional[float] = ..., prob_best_se: _Optional[float] = ..., expected_loss: _Optional[float] = ..., expected_loss_se: _Optional[float] = ...) -> None: ...

class WinnerSummary(_message.Message):
    __slots__ = ("best_arm_id", "can_stop", "draws", "posterior")
    BEST_ARM_ID_FIELD_NUMBER: _ClassVar[int]
    CAN_STOP_FIELD_NUMBER: _ClassVar[int]
    DRAWS_FIELD_NUMBER: _ClassVar[int]
    POSTERIOR_FIELD_NUMBER: _ClassVar[int]
    best_arm_id: str
    can_stop: bool
    draws: int
    posterior: str
    def __init__(self, best_arm_id: _Optional[str] = ..., can_stop: _Optional[bool] = ..., draws: _Optional[int] = ..., posterior: _Optional[str] = ...) -> None: ...

class ContextStats(_message.Message):
    __slots__ = ("context_item", "counts", "ctr", "ucb1", "bucb", "reward_mean", "reward_variance")
    CONTEXT_ITEM_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    CTR_FIELD_NUMBER: _ClassVar[int]
    UCB1_FIELD_NUMBER: _ClassVar[int]
    BUCB_FIELD_NUMBER: _ClassVar[int]
    REWARD_MEAN_FIELD_NUMBER: _ClassVar[int]
    REWARD_VARIANCE_FIELD_NUMBER: _ClassVar[int]
    context_item: str
    counts: Counts
    ctr: float
    ucb1: float
    bucb: float
    reward_mean: float
    reward_variance: float
    def __init__(self, context_item: _Optional[str] = ..., counts: _Optional[_Union[Counts, _Mapping]] = ..., ctr: _Optional[float] = ..., ucb1: _Optional[float] = ..., bucb: _Optional[float] = ..., reward_mean: _Optional[float] = ..., reward_variance: _Optional[float] = ...) -> None: ...

class ArmStats(_message.Message):
    __slots__ = ("arm_id", "enabled", "counts", "ctr", "ucb1", "bucb", "context", "reward_mean", "reward_variance", "winner")
    ARM_ID_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    CTR_FIELD_NUMBER: _ClassVar[int]
    UCB1_FIELD_NUMBER: _ClassVar[int]
    BUCB_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    REWARD_MEAN_FIELD_NUMBER: _ClassVar[int]
    REWARD_VARIANCE_FIELD_NUMBER: _ClassVar[int]
    WINNER_FIELD_NUMBER: _ClassVar[int]
    arm_id: str
    enabled: bool
    counts: Counts
    ctr: float
    ucb1: float
    bucb: float
    context: _containers.RepeatedCompositeFieldContainer[ContextStats]
    reward_mean: float
    reward_variance: float
    winner: ArmWinner
    def __init__(self, arm_id: _Optional[str] = ..., enabled: _Optional[bool] = ..., counts: _Optional[_Union[Counts, _Mapping]] = ..., ctr: _Optional[float] = ..., ucb1: _Optional[float] = ..., bucb: _Optional[float] = ..., context: _Optional[_Iterable[_Union[ContextStats, _Mapping]]] = ..., reward_mean: _Optional[float] = ..., reward_variance: _Optional[float] = ..., winner: _Optional[_Union[ArmWinner, _Mapping]] = ...) -> None: ...

class GetStatsResponse(_message.Message):
    __slots__ = ("room_id", "segment", "arms", "total_views", "applied_sequence", "winner", "next_page_token", "total_size")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    ARMS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_VIEWS_FIELD_NUMBER: _ClassVar[int]
    APPLIED_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    WINNER_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    segment: str
    arms: _containers.RepeatedCompositeFieldContainer[ArmStats]
    total_views: float
    applied_sequence: int
    winner: WinnerSummary
    next_page_token: str
    total_size: int
    def __init__(self, room_id: _Optional[str] = ..., segment: _Optional[str] = ..., arms: _Optional[_Iterable[_Union[ArmStats, _Mapping]]] = ..., total_views: _Optional[float] = ..., applied_sequence: _Optional[int] = ..., winner: _Optional[_Union[WinnerSummary, _Mapping]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class ExportDecisionsRequest(_message.Message):
    __slots__ = ("room_id", "after_sequence", "max_decisions")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    MAX_DECISIONS_FIELD_NUMBER: _ClassVar[int]
    room_id: str
    after_sequence: int
    max_decisions: int
    def __init__(self, room_id: _Optional[str] = ..., after_sequence: _Optional[int] = ..., max_decisions: _Optional[int] = ...) -> None: ...

class LoggedArm(_message.Message):
    __slots__ = ("arm_id", "propensity", "views", "clicks", "reward")
    ARM_ID_FIELD_NUMBER: _ClassVar[int]
    PROPENSITY_FIELD_NUMBER: _ClassVar[int]
    VIEWS_FIELD_NUMBER: _ClassVar[int]
    CLICKS_FIELD_NUMBER: _ClassVar[int]
    REWARD_FIELD_NUMBER: _ClassVar[int]
    arm_id: str
    propensity: float
    views: float
    clicks: float
    reward: float
    def __init__(self, arm_id: _Optional[str] = ..., propensity: _Optional[float] = ..., views: _Optional[float] = ..., clicks: _Optional[float] = ..., reward: _Optional[float] = ...) -> None: ...

class LoggedDecision(_message.Message):
    __slots__ = ("sequence", "decision_id", "time_micros", "room_id", "segment", "context_items", "features", "candidate_arm_ids", "excluded_arm_ids", "eligible_arms", "k", "policy", "arms", "propensity_draws")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_MICROS_FIELD_NUMBER: _ClassVar[int]
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_ITEMS_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_ARM_IDS_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_ARM_IDS_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_ARMS_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    ARMS_FIELD_NUMBER: _ClassVar[int]
    PROPENSITY_DRAWS_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    decision_id: str
    time_micros: int
    room_id: str
    segment: str
    context_items: _containers.RepeatedScalarFieldContainer[str]
    features: _containers.RepeatedScalarFieldContainer[float]
    candidate_arm_ids: _containers.RepeatedScalarFieldContainer[str]
    excluded_arm_ids: _containers.RepeatedScalarFieldContainer[str]
    eligible_arms: int
    k: int
    policy: PolicyType
    arms: _containers.RepeatedCompositeFieldContainer[LoggedArm]
    propensity_draws: int
    def __init__(self, sequence: _Optional[int] = ..., decision_id: _Optional[str] = ..., time_micros: _Optional[int] = ..., room_id: _Optional[str] = ..., segment: _Optional[str] = ..., context_items: _Optional[_Iterable[str]] = ..., features: _Optional[_Iterable[float]] = ..., candidate_arm_ids: _Optional[_Iterable[str]] = ..., excluded_arm_ids: _Optional[_Iterable[str]] = ..., eligible_arms: _Optional[int] = ..., k: _Optional[int] = ..., policy: _Optional[_Union[PolicyType, str]] = ..., arms: _Optional[_Iterable[_Union[LoggedArm, _Mapping]]] = ..., propensity_draws: _Optional[int] = ...) -> None: ...
