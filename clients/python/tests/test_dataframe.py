"""Notebook experience: stats as pandas DataFrames, readable reprs."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import banditd
from banditd import FeedbackEvent


@pytest.fixture
def stats_room(client: banditd.Client, room_id: str) -> str:
    client.create_room(room_id, ["red", "green", "blue"])
    client.feedback_batch(
        [
            FeedbackEvent(room_id, "red", views=100, clicks=10, context=["hour=1"]),
            FeedbackEvent(room_id, "green", views=50, clicks=10, reward=25.0, context=["hour=1", "hour=2"]),
        ]
    )
    return room_id


def test_to_dataframe(client: banditd.Client, stats_room: str) -> None:
    df = client.stats(stats_room).to_dataframe()
    assert isinstance(df, pd.DataFrame)
    assert df.index.name == "arm_id"
    assert list(df.index) == ["red", "green", "blue"]
    assert list(df.columns) == [
        "enabled", "views", "clicks", "reward_sum", "ctr", "ucb1", "bucb", "reward_mean", "reward_variance",
    ]
    assert df.loc["red", "ctr"] == pytest.approx(0.1)
    assert df.loc["green", "reward_sum"] == 25.0
    assert df.loc["blue", "views"] == 0 and math.isinf(df.loc["blue", "ucb1"])
    assert bool(df["enabled"].all())
    assert df["ctr"].idxmax() == "green"


def test_context_dataframe(client: banditd.Client, stats_room: str) -> None:
    st = client.stats(stats_room, include_context=True)
    df = st.to_dataframe(context=True)
    assert list(df.index.names) == ["arm_id", "context_item"]
    assert list(df.index) == [("red", "hour=1"), ("green", "hour=1"), ("green", "hour=2")]
    assert df.loc[("green", "hour=2"), "views"] == 50
    empty = client.stats(stats_room).to_dataframe(context=True)
    assert empty.empty and list(empty.index.names) == ["arm_id", "context_item"]


def test_reprs(client: banditd.Client, stats_room: str) -> None:
    st = client.stats(stats_room)
    text = repr(st)
    lines = text.splitlines()
    assert lines[0] == f"Stats(room_id={stats_room!r}, segment='', total_views=150)"
    assert lines[1].split()[:8] == ["arm_id", "enabled", "views", "clicks", "reward_sum", "ctr", "ucb1", "bucb"]
    assert lines[2].split()[:6] == ["red", "True", "100", "10", "10", "0.1"]
    assert lines[4].split()[6:8] == ["inf", "inf"]
    html = st._repr_html_()
    assert html.count("<tr>") == 4 and "<th>ctr</th>" in html and "(whole room)" in html
    assert repr(client.sample(stats_room, k=1, policy="ctr")).startswith("SampleResult([blue=inf]")
    assert repr(banditd.Counts(3, 1, 1.5)) == "Counts(views=3, clicks=1, reward_sum=1.5)"
    assert repr(banditd.Policy("ucb1", ucb_alpha=0.5)) == "Policy(UCB1, ucb_alpha=0.5)"
    assert repr(banditd.PolicyType.THOMPSON) == "PolicyType.THOMPSON"
    assert st.to_records()[0]["arm_id"] == "red"
