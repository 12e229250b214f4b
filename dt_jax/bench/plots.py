"""The benchmark's figures: quality against speed (the paper's teaser) and every metric against the number of
sampling steps (teacher and students as a line per split, ablations as markers, the static face as a level)."""
from __future__ import annotations

import os

# (label, section, key) of each panel of metrics_vs_steps.png.
PANELS = (("LVE x1e-5", "mean", "lve"), ("EVE x1e-5", "mean", "eve"), ("|FDD| x1e-7", "mean", "abs_fdd"),
          ("best-of-N LVE x1e-5", "distribution", "best_lve"),
          ("upper-face diversity ratio (truth 1)", "distribution", "upper_face_diversity_ratio"),
          ("upper-face energy distance (mm)", "distribution", "upper_face_energy_mm"),
          ("lips energy distance (mm)", "distribution", "lips_energy_mm"),
          ("articulation contrast ratio (truth 1)", "mean", "contrast_ratio"),
          ("loudness correlation ratio (truth 1)", "mean", "loudness_ratio"))


def _pyplot():
  import matplotlib   # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt   # pylint: disable=g-import-not-at-top
  return matplotlib, plt


def quality_vs_speed(results: list[dict], *, split: str, path: str) -> str:
  """The paper's teaser: LVE against batch-1 FPS, marker area ~ stored size."""
  matplotlib, plt = _pyplot()
  timed = [r for r in results if "speed" in r and split in r["quality"]]
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
  fig.savefig(path, dpi=120)
  plt.close(fig)
  return path


def _value(r, split, section, key):
  return r["quality"].get(split, {}).get(section, {}).get(key)


def _methods(results: list[dict]) -> tuple[dict[str, list[dict]], list[dict]]:
  """({method: its rows by steps}, lone rows): ablation rows named `<method>-<steps>` form a method's line when the
  method has two step counts or more (e.g. consistency-1, -2, -4)."""
  groups: dict[str, list[dict]] = {}
  for r in results:
    if r["kind"] == "ablation":
      head, _, tail = r["name"].rpartition("-")
      groups.setdefault(head if tail.isdigit() and head else r["name"], []).append(r)
  lines = {k: sorted(v, key=lambda r: r["num_steps"]) for k, v in groups.items() if len(v) > 1}
  return lines, [r for k, v in groups.items() if k not in lines for r in v]


def metrics_vs_steps(results: list[dict], *, splits, path: str) -> str:
  """One panel per metric: teacher and students against the step count (a line per split), other methods as
  dashed lines and ablations as markers at their step count, the static face as a dotted level."""
  matplotlib, plt = _pyplot()
  chain = sorted((r for r in results if r["kind"] in ("teacher", "student")), key=lambda r: r["num_steps"])
  methods, others = _methods(results)
  static = next((r for r in results if r["kind"] == "baseline"), None)
  panels = [p for p in PANELS if any(_value(r, s, p[1], p[2]) is not None for r in chain for s in splits)]
  cols = 3
  fig, axes = plt.subplots((len(panels) + cols - 1) // cols, cols, figsize=(4.2 * cols, 3.2 * len(panels) / cols + 1),
                           squeeze=False)
  colours = dict(zip(splits, ("tab:blue", "tab:orange", "tab:green", "tab:purple")))
  for ax, (label, section, key) in zip(axes.flat, panels):
    for split in splits:
      pts = [(r["num_steps"], _value(r, split, section, key)) for r in chain]
      pts = [(x, y) for x, y in pts if y is not None]
      if pts:
        ax.plot(*zip(*pts), marker="o", color=colours[split], label=f"halving, {split}" if methods else split)
      for (name, rows), style in zip(methods.items(), ("--", "-.", ":", (0, (3, 1, 1, 1)))):
        pts = [(r["num_steps"], _value(r, split, section, key)) for r in rows]
        pts = [(x, y) for x, y in pts if y is not None]
        if pts:
          ax.plot(*zip(*pts), marker="s", ls=style, color=colours[split], label=f"{name}, {split}")
      for r in others:
        y = _value(r, split, section, key)
        if y is not None:
          ax.scatter([r["num_steps"]], [y], marker="x", color=colours[split])
          ax.annotate(r["name"], (r["num_steps"], y), fontsize=6, color=colours[split])
      if static and _value(static, split, section, key) is not None:
        ax.axhline(_value(static, split, section, key), color=colours[split], ls=":", lw=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted({r["num_steps"] for r in results if r["num_steps"]}))
    ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.set_xlabel("sampling steps")
    ax.set_title(label, fontsize=9)
  for ax in list(axes.flat)[len(panels):]:
    ax.axis("off")
  axes.flat[0].legend(fontsize=7)
  fig.suptitle("metrics against steps (x: ablations; dotted: static face)", fontsize=10)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path


def plots(results: list[dict], *, splits, out_dir: str) -> dict[str, str]:
  """quality_vs_speed.png (on the first split) and metrics_vs_steps.png."""
  return {"quality_vs_speed": quality_vs_speed(results, split=splits[0],
                                               path=os.path.join(out_dir, "quality_vs_speed.png")),
          "metrics_vs_steps": metrics_vs_steps(results, splits=splits,
                                               path=os.path.join(out_dir, "metrics_vs_steps.png"))}
