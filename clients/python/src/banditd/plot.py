"""PNG plots of simulator regret curves and offline evaluation results
(matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

__all__ = ["mean_regret_curves", "plot_regret", "plot_offline"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def mean_regret_curves(rows: Sequence[Mapping[str, Any]]) -> Dict[str, Tuple[List[int], List[float]]]:
    """Per policy: (rounds, cumulative regret averaged over runs)."""
    acc: Dict[str, Dict[int, List[float]]] = {}
    for r in rows:
        acc.setdefault(r["policy"], {}).setdefault(int(r["round"]), []).append(float(r["cumulative_regret"]))
    out = {}
    for pol, by_round in acc.items():
        rounds = sorted(by_round)
        out[pol] = (rounds, [sum(by_round[t]) / len(by_round[t]) for t in rounds])
    return out


def plot_regret(panels: Sequence[Tuple[str, Sequence[Mapping[str, Any]]]], png: Union[str, Path],
                title: Optional[str] = None) -> Path:
    """Writes one panel per (title, CSV rows) side by side, each with the
    cumulative regret curve of every policy in it."""
    plt = _pyplot()
    n = max(1, len(panels))
    fig, axes = plt.subplots(1, n, figsize=(6 * n, 4.5), squeeze=False, sharey=False)
    for ax, (name, rows) in zip(axes[0], panels):
        for pol, (rounds, reg) in sorted(mean_regret_curves(rows).items()):
            ax.plot(rounds, reg, label=f"{pol} ({reg[-1]:.1f})" if reg else pol, linewidth=1.5)
        ax.set_title(name)
        ax.set_xlabel("round")
        ax.set_ylabel("cumulative regret")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    png = Path(png)
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return png


def plot_offline(results: Sequence[Any], png: Union[str, Path], k: int = 5,
                 title: Optional[str] = None) -> Path:
    """Left: running replay CTR of each policy over matched events. Right: the
    metrics of the table side by side (grouped bars)."""
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.5))
    for r in results:
        if r.replay_curve:
            ax1.plot(range(1, len(r.replay_curve) + 1), r.replay_curve, label=r.policy, linewidth=1.5)
    ax1.set_title("replay CTR (running)")
    ax1.set_xlabel("matched events")
    ax1.set_ylabel("CTR")
    ax1.grid(True, alpha=0.3)
    ax1.legend(fontsize=8)
    metrics = [(f"CTR@{k}", "ctr_at_k"), (f"precision@{k}", "precision_at_k"),
               (f"recall@{k}", "recall_at_k"), ("replay CTR", "replay_ctr"), ("IPS CTR", "ips_ctr")]
    width = 0.8 / max(1, len(results))
    for i, r in enumerate(results):
        xs = [j + i * width for j in range(len(metrics))]
        ax2.bar(xs, [getattr(r, m) or 0.0 for _, m in metrics], width, label=r.policy)
    ax2.set_xticks([j + 0.4 - width / 2 for j in range(len(metrics))])
    ax2.set_xticklabels([m for m, _ in metrics])
    ax2.set_ylim(0, 1)
    ax2.set_title("metrics")
    ax2.grid(True, axis="y", alpha=0.3)
    ax2.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    png = Path(png)
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return png
