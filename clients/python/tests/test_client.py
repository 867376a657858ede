"""Every Client method against the real server."""

from __future__ import annotations

import math

import pytest

import banditd
from banditd import FeedbackEvent, Policy, PolicyType


def test_health_reports_serving(client: banditd.Client) -> None:
    assert client.health() == "SERVING"
    client.wait_until_serving(timeout=5)


def test_create_room_defaults(client: banditd.Client, room_id: str) -> None:
    room = client.create_room(room_id, ["red", "green", "blue"])
    assert isinstance(room, banditd.Room)
    assert room.room_id == room_id
    assert room.arm_ids == ["red", "green", "blue"]
    assert all(a.enabled for a in room.arms)
    # CreateRoom without a policy means KL_UCB (issue 13; rooms created
    # before keep UCB1), every parameter resolved.
    p = room.policy
    assert p.type is PolicyType.KL_UCB
    assert (p.ucb_alpha, p.bucb_z, p.beta_prior_a, p.beta_prior_b, p.epsilon) == (1.0, 1.96, 1.0, 1.0, 0.1)
    assert all(getattr(p, f) is not None for f in ("cold_max", "hot_max", "linucb_alpha", "prior_pseudo_views"))
    assert repr(room).startswith(
        f"Room({room_id!r}, arms=[red, green, blue], policy=Policy(KL_UCB, ucb_alpha=1.0, "
        "bucb_z=1.96, beta_prior_a=1.0, beta_prior_b=1.0, epsilon=0.1, "
    )


def test_create_room_with_policy(client: banditd.Client, room_id: str) -> None:
    room = client.create_room(room_id, ["a"], policy=Policy("thompson", beta_prior_a=2.0))
    assert room.policy.type is PolicyType.THOMPSON
    assert room.policy.beta_prior_a == 2.0
    assert room.policy.beta_prior_b == 1.0
    other = client.create_room(room_id + "-2", policy="epsilon-greedy")
    assert other.policy.type is PolicyType.EPSILON_GREEDY
    assert other.arms == ()


def test_get_room(client: banditd.Client, room_id: str) -> None:
    created = client.create_room(room_id, ["a", "b"], policy="ctr")
    assert client.get_room(room_id) == created


def test_list_rooms_pages(client: banditd.Client, room_id: str) -> None:
    ids = [f"{room_id}-{i}" for i in range(5)]
    for i in reversed(ids):
        client.create_room(i, ["x"])
    listed = [r.room_id for r in client.list_rooms(page_size=2)]
    assert [r for r in listed if r.startswith(room_id)] == ids  # ordered by room_id
    assert listed == sorted(listed)
    assert [r.room_id for r in client.iter_rooms()] == listed


def test_delete_room(client: banditd.Client, room_id: str) -> None:
    client.create_room(room_id, ["a"])
    client.delete_room(room_id)
    with pytest.raises(banditd.NotFoundError):
        client.get_room(room_id)
    assert room_id not in [r.room_id for r in client.list_rooms()]
    # The id can be used again, with fresh counters.
    client.create_room(room_id, ["a"])
    assert client.stats(room_id)["a"].counts.views == 0


def test_reset_room(client: banditd.Client, room_id: str) -> None:
    client.create_room(room_id, ["a", "b"], policy="thompson")
    client.set_arm_enabled(room_id, "b", False)
    client.feedback(room_id, "a", views=10, clicks=3, segment="country=PL")
    client.reset_room(room_id)
    for segment in ("", "country=PL"):
        st = client.stats(room_id, segment)
        assert [a.counts for a in st.arms] == [banditd.Counts()] * 2
    room = client.get_room(room_id)
    assert room.arms == (banditd.Arm("a"), banditd.Arm("b", enabled=False))
    assert room.policy.type is PolicyType.THOMPSON


def test_add_arms(client: banditd.Client, room_id: str) -> None:
    client.create_room(room_id, ["a"])
    room = client.add_arms(room_id, ["b", "c"])
    # The reply counts the arms instead of echoing them (BASIC view).
    assert (room.room_id, room.arms, room.arm_count) == (room_id, (), 3)
    assert client.add_arms(room_id, "d").arm_count == 4
    assert client.get_room(room_id).arm_ids == ["a", "b", "c", "d"]


def test_remove_arm(client: banditd.Client, room_id: str) -> None:
    client.create_room(room_id, ["a", "b"])
    client.feedback(room_id, "b", views=5, clicks=1)
    client.remove_arm(room_id, "b")
    assert client.get_room(room_id).arm_ids == ["a"]
    assert [a.arm_id for a in client.stats(room_id)] == ["a"]
    # Re-adding starts from zero: the counters went with the arm.
    client.add_arms(room_id, ["b"])
    assert client.stats(room_id)["b"].counts == banditd.Counts()


def test_set_arm_enabled(client: banditd.Client, room_id: str) -> None:
    client.create_room(room_id, ["a", "b", "c"])
    arm = client.set_arm_enabled(room_id, "b", False)
    assert arm == banditd.Arm("b", enabled=False)
    assert repr(arm) == "Arm('b', disabled)"
    for seed in range(10):
        assert "b" not in client.sample(room_id, k=3, seed=seed).arm_ids
    # Disabled arms keep learning from feedback.
    client.feedback(room_id, "b", views=2, clicks=1)
    st = client.stats(room_id)
    assert st["b"].enabled is False
    assert st["b"].counts.views == 2
    assert client.set_arm_enabled(room_id, "b", True).enabled is True
    assert "b" in client.sample(room_id, k=3).arm_ids


def test_sample_k0_returns_one_arm(client: banditd.Client, room_id: str) -> None:
    client.create_room(room_id, ["a", "b", "c"])
    assert len(client.sample(room_id, k=0)) == 1
    result = client.sample(room_id)
    assert len(result) == 1
    assert result.best in ("a", "b", "c")


def test_sample_top_k_and_scores(client: banditd.Client, room_id: str) -> None:
    client.create_room(room_id, ["a", "b", "c", "d"], policy="ctr")
    client.feedback_batch(
        [
            FeedbackEvent(room_id, "a", views=10, clicks=1),
            FeedbackEvent(room_id, "b", views=10, clicks=5),
            FeedbackEvent(room_id, "c", views=10, clicks=3),
        ]
    )
    result = client.sample(room_id, k=10)
    # d has no views: +Infinity under CTR, so it comes first.
    assert result.arm_ids == ["d", "b", "c", "a"]
    assert math.isinf(result[0].score) and result[0].score > 0
    assert result[1].score == pytest.approx(0.5)
    assert result[1].counts == banditd.Counts(views=10, clicks=5, reward_sum=5)
    assert result.policy.type is PolicyType.CTR
    assert [a.arm_id for a in result] == result.arm_ids
    assert "d=inf" in repr(result)
    # Fewer arms than k are returned when fewer are eligible.
    assert len(client.sample(room_id, k=2)) == 2


def test_sample_unseen_arms_score_infinity(client: banditd.Client, room_id: str) -> None:
    client.create_room(room_id, ["a", "b"])
    for policy in ("ctr", "ucb1", "bucb"):
        result = client.sample(room_id, k=2, policy=policy)
        assert all(math.isinf(a.score) and a.score > 0 for a in result), policy


def test_sample_candidates_exclude_seed(client: banditd.Client, room_id: str) -> None:
    arms = [f"arm{i}" for i in range(8)]
    client.create_room(room_id, arms)
    res = client.sample(room_id, k=10, candidates=["arm1", "arm2", "arm3"], exclude=["arm2", "nope"])
    assert sorted(res.arm_ids) == ["arm1", "arm3"]
    # Seeds make tie-breaks (all arms unseen) reproducible.
    first = client.sample(room_id, k=8, seed=42).arm_ids
    assert client.sample(room_id, k=8, seed=42).arm_ids == first
    assert {tuple(client.sample(room_id, k=8, seed=s).arm_ids) for s in range(20)} != {tuple(first)}


def test_sample_policy_override(client: banditd.Client, room_id: str) -> None:
    client.create_room(room_id, ["a", "b"], policy="ucb1")
    res = client.sample(room_id, policy=Policy("thompson", beta_prior_a=3.0), seed=1)
    assert res.policy.type is PolicyType.THOMPSON
    assert res.policy.beta_prior_a == 3.0
    res = client.sample(room_id, policy={"type": "ucb1", "ucb_alpha": 0.25})
    assert (res.policy.type, res.policy.ucb_alpha, res.policy.bucb_z) == (PolicyType.UCB1, 0.25, 1.96)


def test_sample_with_segment_and_context(client: banditd.Client, room_id: str) -> None:
    client.create_room(room_id, ["a", "b"], policy="ctr")
    client.feedback(room_id, "a", views=10, clicks=9, segment="country=PL", context=["device=ios"])
    client.feedback(room_id, "b", views=10, clicks=1, segment="country=PL", context=["device=ios"])
    res = client.sample(room_id, k=2, segment="country=PL", context=["device=ios"])
    assert res.arm_ids == ["a", "b"]
    assert res[0].counts.views == 10


def test_feedback_single(client: banditd.Client, room_id: str) -> None:
    client.create_room(room_id, ["a"])
    r = client.feedback(room_id, "a", views=1)
    assert r == banditd.FeedbackResult(applied_events=1, duplicate_events=0)
    client.feedback(room_id, "a", clicks=1, reward=2.5)
    client.feedback(room_id, "a", views=3, clicks=1)  # reward defaults to 1 per click
    counts = client.stats(room_id)["a"].counts
    assert counts == banditd.Counts(views=4, clicks=2, reward_sum=3.5)
    assert counts.ctr == 0.5


def test_feedback_batch_and_duplicates(client: banditd.Client, room_id: str) -> None:
    client.create_room(room_id, ["a", "b"])
    events = [
        FeedbackEvent(room_id, "a", views=1, event_id=f"{room_id}-e1"),
        FeedbackEvent(room_id, "b", views=1, clicks=1, event_id=f"{room_id}-e2"),
        FeedbackEvent(room_id, "a", views=1, segment="s1", context=("h=1",)),
    ]
    assert client.feedback_batch(events) == banditd.FeedbackResult(3, 0)
    again = client.feedback_batch(events[:2])
    assert again == banditd.FeedbackResult(applied_events=0, duplicate_events=2)
    st = client.stats(room_id)
    assert st["a"].counts.views == 2 and st["b"].counts.clicks == 1
    assert st.total_views == 3


def test_feedback_batch_is_atomic(client: banditd.Client, room_id: str) -> None:
    client.create_room(room_id, ["a"])
    with pytest.raises(banditd.BanditdError) as exc:
        client.feedback_batch(
            [FeedbackEvent(room_id, "a", views=1), FeedbackEvent(room_id, "zzz", views=1)]
        )
    assert "events[1]" in exc.value.message
    assert client.stats(room_id)["a"].counts.views == 0


def test_stats_segment_and_context(client: banditd.Client, room_id: str) -> None:
    client.create_room(room_id, ["a", "b"])
    client.feedback(room_id, "a", views=4, clicks=1, segment="country=PL", context=["h=2", "h=1"])
    client.feedback(room_id, "b", views=2, segment="country=DE")
    whole = client.stats(room_id)
    assert (whole.room_id, whole.segment, whole.total_views) == (room_id, "", 6)
    assert [a.arm_id for a in whole] == ["a", "b"]
    assert whole["a"].ctr == 0.25
    assert whole["a"].context == ()  # not requested
    pl = client.stats(room_id, "country=PL", include_context=True)
    assert pl.segment == "country=PL"
    assert pl.total_views == 4
    assert [c.context_item for c in pl["a"].context] == ["h=1", "h=2"]
    assert pl["a"].context[0].counts == banditd.Counts(4, 1, 1)
    assert pl["b"].counts.views == 0
    assert math.isinf(pl["b"].ucb1) and pl["b"].ctr == 0
    with pytest.raises(KeyError):
        pl["nope"]
