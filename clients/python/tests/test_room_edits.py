"""UpdateRoom and ResetArm against the real server."""

from __future__ import annotations

import asyncio

import pytest

import banditd
from banditd import PolicyType


def test_update_room_changes_given_fields_and_keeps_counters(client: banditd.Client, room_id: str) -> None:
    client.create_room(room_id, ["a", "b"], policy=banditd.Policy("ucb1", ucb_alpha=0.5))
    client.feedback(room_id, "a", views=10, clicks=3)
    room = client.update_room(room_id, policy=banditd.Policy("epsilon_greedy", epsilon=0.2))
    assert room.policy.type is PolicyType.EPSILON_GREEDY
    assert room.policy.epsilon == 0.2
    assert room.policy.ucb_alpha == 0.5  # not given: kept
    assert client.stats(room_id)["a"].counts.views == 10
    assert client.get_room(room_id).policy.type is PolicyType.EPSILON_GREEDY


def test_update_room_with_mask(client: banditd.Client, room_id: str) -> None:
    client.create_room(room_id, ["a"], policy=banditd.Policy("bucb", bucb_z=3.0), decay={"half_life_events": 50})
    # Only the masked field changes: the policy's type here is ignored, and
    # decay, masked as a whole but not given, is turned off.
    room = client.update_room(
        room_id, policy=banditd.Policy("thompson", bucb_z=1.0), update_mask=["policy.bucb_z", "decay"]
    )
    assert room.policy.type is PolicyType.BUCB
    assert room.policy.bucb_z == 1.0
    assert room.decay == banditd.Decay()
    room = client.update_room(room_id, decay=banditd.Decay(half_life_seconds=30))
    assert room.decay.half_life_seconds == 30


def test_update_room_errors_name_the_path(client: banditd.Client, room_id: str) -> None:
    client.create_room(room_id, ["a"])
    with pytest.raises(banditd.InvalidArgumentError, match=r"update_mask.paths\[1\].*policy.nope"):
        client.update_room(room_id, update_mask=["policy.epsilon", "policy.nope"])
    with pytest.raises(banditd.InvalidArgumentError, match=r"room.policy.epsilon"):
        client.update_room(room_id, policy={"epsilon": 3.0})
    with pytest.raises(banditd.NotFoundError):
        client.update_room(room_id + "-missing", policy="ctr")


def test_reset_arm(client: banditd.Client, room_id: str) -> None:
    client.create_room(room_id, ["a", "b"])
    for segment in ("", "s"):
        client.feedback(room_id, "a", views=10, clicks=1, segment=segment)
        client.feedback(room_id, "b", views=10, clicks=1, segment=segment)
    client.reset_arm(room_id, "a", segment="s")
    assert client.stats(room_id, "s")["a"].counts.views == 0
    assert client.stats(room_id)["a"].counts.views == 20
    client.reset_arm(room_id, "a")
    assert client.stats(room_id)["a"].counts.views == 0
    assert client.stats(room_id)["b"].counts.views == 20
    assert client.stats(room_id, "s")["b"].counts.views == 10
    with pytest.raises(banditd.NotFoundError, match="arm_id"):
        client.reset_arm(room_id, "zz")


def test_async_update_room_and_reset_arm(server, room_id: str) -> None:
    async def main() -> None:
        async with banditd.AsyncClient(server.target) as c:
            await c.create_room(room_id, ["a"])
            await c.feedback(room_id, "a", views=4, clicks=1)
            room = await c.update_room(room_id, policy="thompson")
            assert room.policy.type is PolicyType.THOMPSON
            await c.reset_arm(room_id, "a")
            assert (await c.stats(room_id))["a"].counts.views == 0

    asyncio.run(main())


def test_stats_winner_analysis_columns(client: banditd.Client, room_id: str) -> None:
    pd = pytest.importorskip("pandas")
    client.create_room(room_id, ["a", "b", "off"])
    client.set_arm_enabled(room_id, "off", False)
    client.feedback(room_id, "a", views=1000, clicks=50)
    client.feedback(room_id, "b", views=1000, clicks=200)
    plain = client.stats(room_id)
    assert plain.winner is None and "prob_best" not in plain.to_dataframe().columns
    st = client.stats(room_id, winner=banditd.WinnerOptions(draws=2000, seed=1, loss_threshold=0.001))
    assert st.winner == banditd.WinnerSummary(best_arm_id="b", can_stop=True, draws=2000, posterior="beta")
    df = st.to_dataframe()
    for column in ("prob_best", "prob_best_se", "expected_loss", "expected_loss_se"):
        assert column in df.columns
    assert df.loc["b", "prob_best"] == 1.0
    # a gives up about the gap in click rates.
    assert df.loc["a", "expected_loss"] == pytest.approx(0.15, abs=0.01)
    assert pd.isna(df.loc["off", "prob_best"])
    assert st["off"].winner is None
