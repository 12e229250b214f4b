"""The benchmark's report: speed-ups and size ratios over the teacher, the quality table in the paper's layout per
split, the speed-and-size table, results.json and report.md (with the plots of plots.py)."""
from __future__ import annotations

import json
import os

from dt_jax.bench import measure
from dt_jax.bench import plots as plots_lib


def add_ratios(results: list[dict]) -> None:
  """Speed-up over the teacher (same batch) and size as a fraction of the teacher's, in place."""
  teacher = next((r for r in results if r["kind"] == "teacher"), None)
  if teacher is None:
    return
  for r in results:
    if "speed" not in r:
      continue
    r["speedup"] = {k: v["fps"] / teacher["speed"][k]["fps"] for k, v in r["speed"].items() if k in teacher["speed"]}
    r["size_ratio"] = r["size"]["total_params"] / teacher["size"]["total_params"]


def table(results: list[dict], *, split: str) -> str:
  """The paper's layout (EVE, LVE, FDD, FPS, Size) plus steps, large-batch FPS, speed-up and the device."""
  large = next((k for r in results for k in r.get("speed", {}) if k not in ("batch_1", "sharded")), None)
  head = ["Method", "Steps", "EVE", "LVE", "FDD", "FPS (batch 1)", f"FPS ({large.replace('_', ' ')})" if large
          else "FPS (large batch)", "speed-up (batch 1)", "Size fp32 (MB)", "Size vs teacher", "device"]
  lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
  for r in results:
    q = r["quality"].get(split)
    if q is None:
      continue
    m, s = q["mean"], q["std"]
    cells = [r["name"], str(r["num_steps"] or "-"), f"{m['eve']:.3f} ± {s['eve']:.3f}",
             f"{m['lve']:.3f} ± {s['lve']:.3f}", f"{m['fdd']:.3f}"]
    if "speed" in r:
      cells += [f"{r['speed']['batch_1']['fps']:.0f}", f"{r['speed'][large]['fps']:.0f}" if large else "-",
                f"{r.get('speedup', {}).get('batch_1', float('nan')):.1f}x", f"{r['size']['mb_float32']:.2f}",
                f"{100 * r.get('size_ratio', float('nan')):.1f}%"]
    else:
      cells += ["-"] * 5
    lines.append("| " + " | ".join(cells + [r["device"]]) + " |")
  return "\n".join(lines)


def speed_table(results: list[dict]) -> str:
  """Speed and size of every timed row: FPS and speed-up over the teacher at each measured batch, parameters."""
  timed = [r for r in results if "speed" in r]
  batches = list(timed[0]["speed"]) if timed else []                 # batch_1, batch_<large>[, sharded]
  labels = [k.replace("_", " ") for k in batches]
  head = (["Method", "Steps"] + [f"FPS ({k})" for k in labels] + [f"speed-up ({k})" for k in labels]
          + ["params (M)", "Size fp32 (MB)", "Size vs teacher", "device"])
  lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
  for r in timed:
    up = r.get("speedup", {})
    cells = ([r["name"], str(r["num_steps"])] + [f"{r['speed'][k]['fps']:.0f}" for k in batches]
             + [f"{up[k]:.1f}x" if k in up else "-" for k in batches]
             + [f"{r['size']['total_params'] / 1e6:.2f}", f"{r['size']['mb_float32']:.2f}",
                f"{100 * r.get('size_ratio', float('nan')):.1f}%", r["device"]])
    lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines)


def report(results: list[dict], *, splits, out_dir: str, command: str = "") -> dict[str, str]:
  """results.json, table.md (one quality table per split, then speed and size), the plots (when a split was
  scored), and report.md (tables and plots embedded)."""
  add_ratios(results)
  os.makedirs(out_dir, exist_ok=True)
  paths = {"results": os.path.join(out_dir, "results.json"), "table": os.path.join(out_dir, "table.md"),
           "report": os.path.join(out_dir, "report.md")}
  with open(paths["results"], "w") as f:
    json.dump({"device": measure.device_name(), "command": command, "rows": results}, f, indent=1)
  tables = []
  for split in splits:
    tables += [f"### {split}", "", table(results, split=split), ""]
  tables += ["### speed and size", "", speed_table(results), ""]
  with open(paths["table"], "w") as f:
    f.write("\n".join(tables))
  md = ["# Step-count benchmark", "", f"Device: {measure.device_name()}. LVE, EVE, MVE x1e-5; FDD x1e-7 (mean ± spread "
        "over noise seeds); FPS: frames generated per second of wall time for a fixed clip, audio encoding "
        "included, after warm-up; size: stored float32 parameters.", ""]
  if any(r.get("weights") == "random" for r in results):
    md += ["Models built from their configs with random weights (no training, no data): speed and size only, "
           "which are a trained pair's (same shapes, same work).", ""]
  if command:
    md += ["```", command, "```", ""]
  md += tables
  if splits:
    paths.update(plots_lib.plots(results, split=splits[0], out_dir=out_dir))
    md += [f"![quality against speed]({os.path.basename(paths['quality_vs_speed'])})", "",
           f"![quality against steps]({os.path.basename(paths['quality_vs_steps'])})", ""]
  with open(paths["report"], "w") as f:
    f.write("\n".join(md) + "\n")
  return paths
