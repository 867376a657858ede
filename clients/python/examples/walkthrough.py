# %% [markdown]
# # banditd walkthrough
#
# A notebook-style tour of the Python client (run it cell by cell in VS Code,
# PyCharm or Jupyter with jupytext, or as a plain script). It needs a running
# server: `scripts/serve.sh` starts one on localhost:50051; set BANDITD_TARGET
# to use another address.
#
# We create a room with three button colours, simulate visitors whose true
# click-through rates the bandit does not know, and look at what it learned.

# %%
import os
import random

import banditd

TARGET = os.environ.get("BANDITD_TARGET", "localhost:50051")
ROOM = os.environ.get("BANDITD_ROOM", "walkthrough")
ROUNDS = int(os.environ.get("BANDITD_ROUNDS", "2000"))

client = banditd.Client(TARGET)
client.wait_until_serving(timeout=10)
client

# %% [markdown]
# ## Create a room
# One room is one experiment. Its arms are the variants; the default policy
# is UCB1. Re-running the notebook starts from scratch.

# %%
try:
    client.delete_room(ROOM)
except banditd.NotFoundError:
    pass
room = client.create_room(ROOM, ["red", "green", "blue"], policy="ucb1")
room

# %% [markdown]
# ## Simulate traffic
# Each visitor: ask banditd which colour to show, show it (one view), and
# report a click with the colour's true probability. Clicks are reported in
# the same event as the view here; they may also come later in their own
# event.

# %%
TRUE_CTR = {"red": 0.03, "green": 0.12, "blue": 0.05}
rng = random.Random(7)
shown = {arm: 0 for arm in TRUE_CTR}
for visitor in range(ROUNDS):
    arm = client.sample(ROOM, seed=visitor).best  # seed: reproducible tie-breaks
    clicked = rng.random() < TRUE_CTR[arm]
    client.feedback(ROOM, arm, views=1, clicks=int(clicked), event_id=f"{ROOM}-{visitor}")
    shown[arm] += 1
shown

# %% [markdown]
# ## What did the bandit learn?
# `stats()` returns per-arm counters and scores; `to_dataframe()` turns them
# into a pandas DataFrame (install the `pandas` extra).

# %%
stats = client.stats(ROOM)
df = stats.to_dataframe()
df["true_ctr"] = df.index.map(TRUE_CTR)
df["share"] = df["views"] / stats.total_views
print(df[["views", "clicks", "ctr", "true_ctr", "share", "ucb1"]].round(4).to_string())

# %% [markdown]
# The best arm should have received most of the traffic:

# %%
best = df["share"].idxmax()
print(f"most shown: {best} ({df.loc[best, 'share']:.0%} of {stats.total_views:.0f} views)")

# %% [markdown]
# ## Segments and context
# Feedback can be sliced by segment (for example a country) and context items
# (for example the hour); Sample then ranks within that slice.

# %%
client.feedback(ROOM, "blue", views=20, clicks=6, segment="country=PL", context=["hour=13"])
client.sample(ROOM, k=3, segment="country=PL", context=["hour=13"], policy="ctr")

# %%
client.stats(ROOM, "country=PL", include_context=True).to_dataframe(context=True)

# %%
client.close()
