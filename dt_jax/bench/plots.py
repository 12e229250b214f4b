"""The benchmark's figures: quality against speed (the paper's teaser) and quality against the number of steps."""
from __future__ import annotations

import os

import numpy as np


def plots(results: list[dict], *, split: str, out_dir: str) -> dict[str, str]:
  """quality_vs_speed.png (the paper's teaser: LVE against batch-1 FPS, marker area ~ stored size) and
  quality_vs_steps.png (LVE and EVE against the step count, teacher and students)."""
  import matplotlib   # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt   # pylint: disable=g-import-not-at-top
  timed = [r for r in results if "speed" in r and split in r["quality"]]
  paths = {}
  fig, ax = plt.subplots(figsize=(6, 4.5))
  biggest = max((r["size"]["mb_float32"] for r in timed), default=1.0)
  for r in timed:
    x, y = r["speed"]["batch_1"]["fps"], r["quality"][split]["mean"]["lve"]
    ax.scatter(x, y, s=60 + 1500 * r["size"]["mb_float32"] / biggest, alpha=0.5,
               color={"teacher": "tab:red", "student": "tab:blue"}.get(r["kind"], "tab:gray"))
    ax.annotate(f"{r['name']}\n{r['size']['mb_float32']:.1f} MB", (x, y), fontsize=8, ha="center", va="center")
  static = next((r for r in results if r["kind"] == "baseline" and split in r["quality"]), None)
  if static:
    ax.axhline(static["quality"][split]["mean"]["lve"], color="k", ls="--", lw=0.8, label="static face")
    ax.legend(loc="upper right", fontsize=8)
  ax.set_xscale("log")
  ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
  ax.set_xlabel("frames per second, batch 1 (log)")
  ax.set_ylabel(f"LVE x1e-5 on {split} (lower is better)")
  ax.set_title(f"quality against speed; marker area ~ size ({results[0]['device']})", fontsize=9)
  ax.margins(0.25)
  fig.tight_layout()
  paths["quality_vs_speed"] = os.path.join(out_dir, "quality_vs_speed.png")
  fig.savefig(paths["quality_vs_speed"], dpi=120)
  plt.close(fig)

  fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
  chain = sorted((r for r in timed if r["kind"] in ("teacher", "student")), key=lambda r: r["num_steps"])
  for ax, key in zip(axes, ("lve", "eve")):
    steps = [r["num_steps"] for r in chain]
    mean = np.array([r["quality"][split]["mean"][key] for r in chain])
    std = np.array([r["quality"][split]["std"][key] for r in chain])
    ax.errorbar(steps, mean, yerr=std, marker="o", capsize=3, color="tab:blue", label="students")
    for r in chain:
      if r["kind"] == "teacher":
        ax.scatter([r["num_steps"]], [r["quality"][split]["mean"][key]], color="tab:red", zorder=3, label="teacher")
    for r in timed:
      if r["kind"] == "ablation":
        ax.scatter([r["num_steps"]], [r["quality"][split]["mean"][key]], marker="x", label=r["name"])
    if static:
      ax.axhline(static["quality"][split]["mean"][key], color="k", ls="--", lw=0.8, label="static face")
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted({r["num_steps"] for r in timed}))
    ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.set_xlabel("sampling steps")
    ax.set_ylabel(f"{key.upper()} x1e-5 on {split}")
  axes[1].legend(fontsize=7)
  fig.tight_layout()
  paths["quality_vs_steps"] = os.path.join(out_dir, "quality_vs_steps.png")
  fig.savefig(paths["quality_vs_steps"], dpi=120)
  plt.close(fig)
  return paths
