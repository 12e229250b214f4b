"""The benchmark's report: speed-ups and size ratios over the teacher; per split, the quality table in the paper's
layout and the table against the true distribution; the speed-and-size table; a verdict on the paper's orderings;
results.json and report.md (with the plots of plots.py)."""
from __future__ import annotations

import json
import os

from dt_jax.bench import measure
from dt_jax.bench import plots as plots_lib

# The paper's orderings (DiffusionTalker, Table 1 and ablations on 3D-ETF): (better, worse, the paper's metrics).
ORDERINGS = (("student-2", "no_distillation", "EVE, LVE, FDD"), ("student-2", "no_emotion", "EVE, LVE, FDD"),
             ("student-2", "no_identity", "EVE, LVE, FDD"), ("student-2", "no_enhancer", "EVE, FDD"),
             ("student-2", "teacher-16", "EVE"), ("teacher-16", "student-2", "LVE, FDD"))
# Verdict columns: (label, (section, key), how to compare): "low" lower is better, "one" nearer 1 is better.
VERDICT = (("LVE", ("mean", "lve"), "low"), ("EVE", ("mean", "eve"), "low"), ("abs FDD", ("mean", "abs_fdd"), "low"),
           ("best-of-N LVE", ("distribution", "best_lve"), "low"),
           ("upper-face energy", ("distribution", "upper_face_energy_mm"), "low"),
           ("lips energy", ("distribution", "lips_energy_mm"), "low"),
           ("upper-face diversity", ("distribution", "upper_face_diversity_ratio"), "one"),
           ("articulation contrast", ("mean", "contrast_ratio"), "one"),
           ("loudness corr.", ("mean", "loudness_ratio"), "one"))


def add_ratios(results: list[dict]) -> None:
  """Size as a fraction of the teacher's and, where no interleaved timing exists, the speed-up over the teacher
  as a ratio of two medians (same batch), in place."""
  teacher = next((r for r in results if r["kind"] == "teacher"), None)
  if teacher is None:
    return
  for r in results:
    if "speed" not in r:
      continue
    r["size_ratio"] = r["size"]["total_params"] / teacher["size"]["total_params"]
    if "speedup" not in r:
      r["speedup"] = {k: {"median": v["fps"] / teacher["speed"][k]["fps"]} for k, v in r["speed"].items()
                      if k in teacher["speed"]}


def _speedup(r: dict, key: str) -> str:
  up = r.get("speedup", {}).get(key)
  if up is None:
    return "-"
  spread = f" [{up['q25']:.1f}-{up['q75']:.1f}]" if "q25" in up else ""
  return f"{up['median']:.1f}x{spread}"


def _row(cells) -> str:
  return "| " + " | ".join(cells) + " |"


def table(results: list[dict], *, split: str) -> str:
  """The paper's layout (EVE, LVE, FDD, FPS, Size) plus steps, large-batch FPS, speed-up and the device."""
  large = next((k for r in results for k in r.get("speed", {}) if k not in ("batch_1", "sharded")), None)
  head = ["Method", "Steps", "EVE", "LVE", "FDD", "FPS (batch 1)", f"FPS ({large.replace('_', ' ')})" if large
          else "FPS (large batch)", "speed-up (batch 1)", "Size fp32 (MB)", "Size vs teacher", "device"]
  lines = [_row(head), "|" + "---|" * len(head)]
  for r in results:
    q = r["quality"].get(split)
    if q is None:
      continue
    m, s = q["mean"], q["std"]
    cells = [r["name"], str(r["num_steps"] or "-"), f"{m['eve']:.3f} ± {s['eve']:.3f}",
             f"{m['lve']:.3f} ± {s['lve']:.3f}", f"{m['fdd']:.3f}"]
    if "speed" in r:
      cells += [f"{r['speed']['batch_1']['fps']:.0f}", f"{r['speed'][large]['fps']:.0f}" if large else "-",
                _speedup(r, "batch_1"), f"{r['size']['mb_float32']:.2f}", f"{100 * r.get('size_ratio', float('nan')):.1f}%"]
    else:
      cells += ["-"] * 5
    lines.append(_row(cells + [r["device"]]))
  return "\n".join(lines)


def distribution_table(results: list[dict], *, split: str) -> str:
  """Against the true distribution (N samples per clip, K alternates) and the articulation metrics."""
  head = ["Method", "Steps", "diversity lips / upper", "energy lips (floor, static)", "energy upper (floor, static)",
          "best-of-N LVE / EVE", "mean-of-N LVE", "ProbTalk3D diversity (truth)", "contrast", "loudness corr."]
  lines = [_row(head), "|" + "---|" * len(head)]
  for r in results:
    q = r["quality"].get(split)
    if q is None or "distribution" not in q:
      continue
    d, m = q["distribution"], q["mean"]
    cells = [r["name"], str(r["num_steps"] or "-"),
             f"{d['lips_diversity_ratio']:.2f} / {d['upper_face_diversity_ratio']:.2f}"]
    for region in ("lips", "upper_face"):
      cells.append(f"{d[f'{region}_energy_mm']:.3f} ({d[f'{region}_energy_floor_mm']:.3f}, "
                   f"{d[f'{region}_energy_static_mm']:.3f})")
    cells += [f"{d['best_lve']:.3f} / {d['best_eve']:.3f}", f"{d['mean_sample_lve']:.3f}",
              f"{d['probtalk_diversity_mm']:.3f} ({d['truth_probtalk_diversity_mm']:.3f})",
              f"{m['contrast_ratio']:.2f}" if "contrast_ratio" in m else "-",
              f"{m['loudness_ratio']:.2f}" if "loudness_ratio" in m else "-"]
    lines.append(_row(cells))
  return "\n".join(lines) if len(lines) > 2 else ""


def speed_table(results: list[dict]) -> str:
  """Speed and size of every timed row: FPS and speed-up over the teacher at each measured batch (the median and
  quartiles of interleaved pairs where measured so), parameters."""
  timed = [r for r in results if "speed" in r]
  batches = list(timed[0]["speed"]) if timed else []                 # batch_1, batch_<large>[, sharded]
  labels = [k.replace("_", " ") for k in batches]
  head = (["Method", "Steps"] + [f"FPS ({k})" for k in labels] + [f"speed-up ({k})" for k in labels]
          + ["params (M)", "Size fp32 (MB)", "Size vs teacher", "device"])
  lines = [_row(head), "|" + "---|" * len(head)]
  for r in timed:
    cells = ([r["name"], str(r["num_steps"])] + [f"{r['speed'][k]['fps']:.0f}" for k in batches]
             + [_speedup(r, k) for k in batches]
             + [f"{r['size']['total_params'] / 1e6:.2f}", f"{r['size']['mb_float32']:.2f}",
                f"{100 * r.get('size_ratio', float('nan')):.1f}%", r["device"]])
    lines.append(_row(cells))
  return "\n".join(lines)


def streaming_table(results: list[dict]) -> str:
  """Per model and lookahead: p50 / p95 latency (ms), real-time factor and the streamed motion's LVE against the
  offline animation (x1e-5), batch 1, chunks of 40 ms."""
  streamed = [r for r in results if "streaming" in r]
  if not streamed:
    return ""
  looks = [k for k in streamed[0]["streaming"] if k.startswith("lookahead_")]
  head = ["Method", "Steps"] + [f"lookahead {k.split('_')[1]} ms: latency p50 / p95, RTF, LVE vs offline"
                                for k in looks]
  lines = [_row(head), "|" + "---|" * len(head)]
  for r in streamed:
    cells = [r["name"], str(r["num_steps"])]
    for k in looks:
      m = r["streaming"][k]
      cells.append(f"{m['latency_ms_p50']:.0f} / {m['latency_ms_p95']:.0f} ms, {m['rtf']:.3f}, "
                   f"{m['lve_vs_offline']:.3f}")
    lines.append(_row(cells))
  return "\n".join(lines)


def _value(r: dict, split: str, section: str, key: str):
  q = r["quality"].get(split, {})
  return q.get(section, {}).get(key)


def verdict(results: list[dict], *, split: str) -> str:
  """For each of the paper's orderings whose rows were measured: does each metric order the pair the same way
  (yes / no; '-' where not measured)?"""
  by_name = {r["name"]: r for r in results}
  head = ["paper's ordering (its metrics)"] + [label for label, _, _ in VERDICT]
  lines = [_row(head), "|" + "---|" * len(head)]
  for better, worse, paper in ORDERINGS:
    if better not in by_name or worse not in by_name:
      continue
    cells = [f"{better} better than {worse} ({paper})"]
    for _, (section, key), how in VERDICT:
      a, b = _value(by_name[better], split, section, key), _value(by_name[worse], split, section, key)
      if a is None or b is None:
        cells.append("-")
        continue
      agrees = a < b if how == "low" else abs(a - 1) < abs(b - 1)
      cells.append("yes" if agrees else "no")
    lines.append(_row(cells))
  return "\n".join(lines) if len(lines) > 2 else ""


def report(results: list[dict], *, splits, out_dir: str, command: str = "") -> dict[str, str]:
  """results.json, table.md (per split: the paper's layout, then the distribution table; then speed and size),
  the plots (when a split was scored), and report.md (the verdict first, then tables and plots)."""
  add_ratios(results)
  os.makedirs(out_dir, exist_ok=True)
  paths = {"results": os.path.join(out_dir, "results.json"), "table": os.path.join(out_dir, "table.md"),
           "report": os.path.join(out_dir, "report.md")}
  with open(paths["results"], "w") as f:
    json.dump({"device": measure.device_name(), "command": command, "rows": results}, f, indent=1)
  tables = []
  for split in splits:
    tables += [f"### {split}", "", table(results, split=split), ""]
    dist = distribution_table(results, split=split)
    tables += [f"#### {split}: against the true distribution, articulation", "", dist, ""] if dist else []
  tables += ["### speed and size", "", speed_table(results), ""]
  stream = streaming_table(results)
  tables += ["### streaming (launch/stream.py's animator, 40 ms chunks, batch 1)", "", stream, ""] if stream else []
  with open(paths["table"], "w") as f:
    f.write("\n".join(tables))
  md = ["# Step-count benchmark", ""]
  verdicts = [(split, verdict(results, split=split)) for split in splits]
  for split, v in verdicts:
    if v:
      md += [f"## Verdict on {split}: which metrics order each pair as the paper does", "", v, ""]
  md += [f"Device: {measure.device_name()}. LVE, EVE, MVE x1e-5; FDD x1e-7 (mean ± spread over noise samples); "
         "energy distances and diversity in mm of RMS vertex trajectory distance; FPS: frames generated per second "
         "of wall time for a fixed clip, audio encoding included, after warm-up; speed-ups: median [quartiles] of "
         "interleaved pairs; size: stored float32 parameters.", ""]
  if any(r.get("weights") == "random" for r in results):
    md += ["Models built from their configs with random weights (no training, no data): speed and size only, "
           "which are a trained pair's (same shapes, same work).", ""]
  if command:
    md += ["```", command, "```", ""]
  md += tables
  if splits:
    paths.update(plots_lib.plots(results, splits=splits, out_dir=out_dir))
    md += [f"![{name.replace('_', ' ')}]({os.path.basename(path)})" for name, path in paths.items()
           if path.endswith(".png")] + [""]
  with open(paths["report"], "w") as f:
    f.write("\n".join(md) + "\n")
  return paths
