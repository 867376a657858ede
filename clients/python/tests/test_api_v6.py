"""Wrapper coverage of the newer API: policy types and parameters, decay,
LinUCB features, decision ids, reward statistics. Also guards the wrapper
against drifting from the generated messages."""

from __future__ import annotations

import dataclasses

import pytest

import banditd
from banditd import Decay, LinUcbConfig, Policy, PolicyType
from banditd.v1 import banditd_pb2 as pb


def test_wrapper_covers_every_policy_type_and_parameter() -> None:
    names = {v.name[len("POLICY_TYPE_"):]: v.number for v in pb.PolicyType.DESCRIPTOR.values}
    assert {m.name: m.value for m in PolicyType} == names
    params = {f.name for f in pb.Policy.DESCRIPTOR.fields} - {"type"}
    assert {f.name for f in dataclasses.fields(Policy)} - {"type"} == params
    stats_fields = {f.name for f in pb.ArmStats.DESCRIPTOR.fields}
    assert stats_fields <= {f.name for f in dataclasses.fields(banditd.ArmStats)} | {"counts"}
    event_fields = {f.name for f in pb.FeedbackEvent.DESCRIPTOR.fields} - {"context_items"}
    assert event_fields <= {f.name for f in dataclasses.fields(banditd.FeedbackEvent)}


def test_policy_round_trip_new_parameters() -> None:
    p = Policy("hot-cold", cold_max=2.0, hot_threshold=0.1, prior_pseudo_views=5)
    assert Policy.from_proto(p.to_proto()) == p
    assert PolicyType.parse("linucb") is PolicyType.LINUCB
    assert PolicyType.parse("POLICY_TYPE_REWARD_THOMPSON") is PolicyType.REWARD_THOMPSON


def test_create_room_with_decay_and_linucb(client: banditd.Client, room_id: str) -> None:
    room = client.create_room(
        room_id, ["a", "b"], policy="linucb", decay={"half_life_events": 1000}, linucb={"dimension": 3, "lambda": 1.0}
    )
    assert room.decay == Decay(half_life_events=1000)
    assert room.linucb.dimension == 3
    assert room.policy.type is PolicyType.LINUCB
    assert "linucb=" in repr(room) and "decay=" in repr(room)
    assert client.get_room(room_id) == room
    res = client.sample(room_id, k=2, features=[1.0, 0.0, 0.5])
    assert len(res) == 2
    client.feedback(room_id, res.best, views=1, clicks=1, features=[1.0, 0.0, 0.5])
    with pytest.raises(banditd.InvalidArgumentError) as info:
        client.sample(room_id, features=[1.0])
    assert "features" in info.value.message


def test_feedback_by_decision_id(client: banditd.Client, room_id: str) -> None:
    client.create_room(room_id, ["a", "b"])
    res = client.sample(room_id, segment="country=PL")
    if not res.decision_id:
        pytest.skip("server runs without a decision cache")
    client.feedback(decision_id=res.decision_id, views=1, clicks=1)
    st = client.stats(room_id, "country=PL")
    assert st[res.best].counts.clicks == 1
    with pytest.raises(banditd.NotFoundError):
        client.feedback(decision_id="no-such-decision", views=1)


def test_reward_statistics(client: banditd.Client, room_id: str) -> None:
    client.create_room(room_id, ["a"], policy="reward_ucb")
    client.feedback(room_id, "a", views=4, clicks=2, reward=10.0)
    a = client.stats(room_id)["a"]
    assert a.reward_mean == pytest.approx(2.5)
    assert a.reward_variance >= 0
    df = client.stats(room_id).to_dataframe()
    assert df.loc["a", "reward_mean"] == pytest.approx(2.5)
