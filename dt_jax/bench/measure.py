"""The step-count benchmark (DESIGN.md §5): quality, speed and size of the teacher, its students and ablations.

For every row (teacher-16, student-8/4/2[/1], ablations; the static face as the quality floor):
* quality: LVE, EVE, MVE, FDD and |FDD| on each split, mean and spread over noise seeds (evaluator.evaluate);
* speed: frames generated per second of wall time for a fixed clip (10 s by default) at batch 1 and at a large
  batch, audio encoding included, after a warm-up call, with `block_until_ready`; the compile time apart;
  optionally the large batch sharded over several devices (a `data` mesh axis);
* size: parameters per component and the stored size of the parameters in float32 and bfloat16.
Each row is written to `<out>/rows/<name>.json` as soon as it is done, so a killed benchmark resumes where it
stopped. `report` turns the rows into results.json, a markdown table in the paper's layout and plots.
`untrained_rows` builds the teacher and its student from configs with random weights and no data: their speed and
size are a trained pair's (same shapes, same work), e.g. at `scale=paper` on an accelerator before any training.
"""
from __future__ import annotations

import dataclasses
import json
import os
import platform
import time
from typing import Any

import flax.serialization
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from dt_jax.data import audio as audio_lib
from dt_jax.data import normalization
from dt_jax.data import source
from dt_jax.distill import rounds as rounds_lib
from dt_jax.eval import evaluator
from dt_jax.train import loop

COMPONENTS = ("audio_encoder", "encoder_projection", "personalizer", "denoiser")


@dataclasses.dataclass(frozen=True)
class Row:
  name: str
  run: evaluator.Run | None       # None: the static face (quality only)
  num_steps: int
  kind: str                       # "baseline" | "teacher" | "student" | "ablation"


def rows(*, teacher: str, student: str | None, ablations: dict[str, str], data_dir: str | None = None) -> list[Row]:
  """The rows in table order: static face, teacher, the student's rounds (most steps first), ablations."""
  t = evaluator.load_run(teacher, data_dir=data_dir)
  out = [Row("static", None, 0, "baseline"), Row(f"teacher-{t.cfg.diffusion.num_steps}", t,
                                                 t.cfg.diffusion.num_steps, "teacher")]
  if student:
    rounds = evaluator.distill_rounds(student)
    if not rounds:
      raise FileNotFoundError(f"{student} holds no finished distillation round (steps_N/config.json)")
    for n, round_dir in rounds.items():
      out.append(Row(f"student-{n}", evaluator.load_run(round_dir, data_dir=data_dir), n, "student"))
  for name, path in ablations.items():
    run = evaluator.load_run(path, data_dir=data_dir)
    out.append(Row(name, run, run.cfg.diffusion.num_steps, "ablation"))
  return out


def untrained_rows(teacher_cfg, student_cfg, *, data_dir: str | None = None, seed: int = 0) -> list[Row]:
  """Rows for speed and size only: the teacher of `teacher_cfg` (configs/ours16.py) at its step count and the
  student of `student_cfg` (configs/ours2.py) at every halving, randomly initialised. The dataset's shapes (motion
  dimension, speaker and emotion counts) come from its TFDS builder, so nothing needs to be built; a dataset whose
  speakers are only known once built (etf3d) needs `data_dir` of a built copy."""
  b = source.builder(teacher_cfg.data.name, data_dir=data_dir or teacher_cfg.data.data_dir)
  if b.info.features["speaker"].num_classes is None:
    raise ValueError(f"{teacher_cfg.data.name}: its speaker count is set when it is built; build it (launch/"
                     f"build_data.py) and pass its data_dir")
  ds = source.Dataset(name=teacher_cfg.data.name, splits={}, rig=None, info=b.info)
  stats = normalization.MotionStats(mean=np.zeros(ds.motion_dim, np.float32), scale=1.0)
  teacher = loop.model_from_config(teacher_cfg, ds)
  halvings = rounds_lib.plan(teacher_steps=teacher_cfg.diffusion.num_steps, end_steps=student_cfg.distill.end_steps,
                             target="teacher")
  student_cfg = ml_collections.ConfigDict({"model": rounds_lib.student_model_config(student_cfg, teacher_cfg)})
  student = loop.model_from_config(student_cfg, ds)

  def run(model, cfg, key):
    frames = audio_lib.FPS                                       # one second
    inputs = (jnp.zeros((1, audio_lib.SAMPLE_RATE)), jnp.zeros((1, frames, ds.motion_dim)), jnp.zeros((1,)),
              jnp.ones((1, frames)))                             # audio [1, S], motion [1, T, D], t [1], mask [1, T]
    params = jax.jit(model.init)({"params": jax.random.PRNGKey(key)}, *inputs)["params"]
    return evaluator.Run(cfg=cfg, dataset=ds, model=model, params=params, stats=stats, workdir=None)

  n = teacher_cfg.diffusion.num_steps
  out = [Row(f"teacher-{n}", run(teacher, teacher_cfg, seed), n, "teacher")]
  s = run(student, student_cfg, seed + 1)
  return out + [Row(f"student-{k}", s, k, "student") for k in halvings]


def sizes(params) -> dict[str, Any]:
  """Parameters per component and in total; stored MB (2**20 bytes) of the serialized params in fp32 / bf16."""
  count = lambda tree: int(sum(np.prod(x.shape) for x in jax.tree.leaves(tree)))
  per = {k: count(params[k]) for k in COMPONENTS if k in params}
  stored = {}
  for dtype in ("float32", "bfloat16"):
    cast = jax.tree.map(lambda x: np.asarray(jnp.asarray(x, dtype)), params)   # pylint: disable=cell-var-from-loop
    stored[dtype] = len(flax.serialization.msgpack_serialize(cast)) / 2**20
  return {"params": per, "total_params": count(params), "mb_float32": stored["float32"],
          "mb_bfloat16": stored["bfloat16"]}


def speed(run: evaluator.Run, *, num_steps: int, batch: int, clip_seconds: float, reps: int,
          devices=None) -> dict[str, Any]:
  """Frames per second of the whole generator (audio in, motion out) on a fixed clip; compile time apart.
  `devices`: shard the batch over these devices (a `data` mesh axis) instead of running on the default one."""
  fn = evaluator.sample_fn(run.model, num_steps=num_steps, stats=run.stats)
  frames = int(round(clip_seconds * 30))
  rng = np.random.default_rng(0)
  audio = (0.1 * rng.standard_normal((batch, int(clip_seconds * audio_lib.SAMPLE_RATE)))).astype(np.float32)
  args = [run.params, audio, np.ones((batch, frames), np.float32),
          rng.standard_normal((batch, frames, run.dataset.motion_dim)).astype(np.float32)]
  if devices is not None:
    if batch % len(devices):
      raise ValueError(f"batch {batch} does not divide over {len(devices)} devices")
    mesh = jax.sharding.Mesh(np.array(devices), ("data",))
    args = [jax.device_put(args[0], NamedSharding(mesh, P()))] + \
           [jax.device_put(a, NamedSharding(mesh, P("data"))) for a in args[1:]]
  else:
    args = [jax.device_put(a) for a in args]
  t0 = time.perf_counter()
  compiled = fn.lower(*args).compile()
  compile_s = time.perf_counter() - t0
  compiled(*args).block_until_ready()                        # warm-up
  times = []
  for _ in range(reps):
    t0 = time.perf_counter()
    compiled(*args).block_until_ready()
    times.append(time.perf_counter() - t0)
  seconds = float(np.median(times))
  return {"batch": batch, "frames": frames, "clip_seconds": clip_seconds, "compile_s": compile_s,
          "seconds": seconds, "fps": batch * frames / seconds, "reps": reps,
          "devices": 1 if devices is None else len(devices)}


def device_name() -> str:
  """What the numbers were measured on: 'NVIDIA H100 80GB HBM3 x1' or 'CPU (<model>, 2 cores)'."""
  d = jax.devices()[0]
  if d.platform == "cpu":
    model = platform.processor() or platform.machine()
    if os.path.exists("/proc/cpuinfo"):
      names = [line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")]
      model = names[0] if names else model
    return f"CPU ({model}, {os.cpu_count()} cores)"
  return f"{d.device_kind} x{jax.device_count()}"


def measure(row: Row, *, dataset, splits, seeds, batch_size: int, clip_seconds: float, large_batch: int,
            reps: int, device_count: int) -> dict[str, Any]:
  """Everything the benchmark records for one row."""
  out = {"name": row.name, "kind": row.kind, "num_steps": row.num_steps, "device": device_name(),
         "workdir": row.run.workdir if row.run else None, "quality": {}}
  if row.run is not None and row.run.workdir is None:
    out["weights"] = "random"                    # untrained_rows: speed and size only
  predict = (evaluator.static_predictor if row.run is None else
             evaluator.diffusion_predictor(row.run.model, row.run.params, num_steps=row.num_steps,
                                           stats=row.run.stats))
  for split in splits:
    r = evaluator.evaluate(dataset, split, predict, seeds=seeds, batch_size=batch_size)
    out["quality"][split] = {"mean": r["mean"], "std": r["std"], "seeds": list(seeds)}
  if row.run is None:
    return out
  out["size"] = sizes(row.run.params)
  out["speed"] = {f"batch_{b}": speed(row.run, num_steps=row.num_steps, batch=b, clip_seconds=clip_seconds,
                                      reps=reps) for b in (1, large_batch)}
  if device_count > 1:
    out["speed"]["sharded"] = speed(row.run, num_steps=row.num_steps, batch=large_batch,
                                    clip_seconds=clip_seconds, reps=reps, devices=jax.devices()[:device_count])
  return out


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


def report(results: list[dict], *, splits, out_dir: str, command: str = "") -> dict[str, str]:
  """results.json, table.md (one quality table per split, then speed and size), the plots (when a split was
  scored), and report.md (tables and plots embedded)."""
  add_ratios(results)
  os.makedirs(out_dir, exist_ok=True)
  paths = {"results": os.path.join(out_dir, "results.json"), "table": os.path.join(out_dir, "table.md"),
           "report": os.path.join(out_dir, "report.md")}
  with open(paths["results"], "w") as f:
    json.dump({"device": device_name(), "command": command, "rows": results}, f, indent=1)
  tables = []
  for split in splits:
    tables += [f"### {split}", "", table(results, split=split), ""]
  tables += ["### speed and size", "", speed_table(results), ""]
  with open(paths["table"], "w") as f:
    f.write("\n".join(tables))
  md = ["# Step-count benchmark", "", f"Device: {device_name()}. LVE, EVE, MVE x1e-5; FDD x1e-7 (mean ± spread "
        "over noise seeds); FPS: frames generated per second of wall time for a fixed clip, audio encoding "
        "included, after warm-up; size: stored float32 parameters.", ""]
  if any(r.get("weights") == "random" for r in results):
    md += ["Models built from their configs with random weights (no training, no data): speed and size only, "
           "which are a trained pair's (same shapes, same work).", ""]
  if command:
    md += ["```", command, "```", ""]
  md += tables
  if splits:
    paths.update(plots(results, split=splits[0], out_dir=out_dir))
    md += [f"![quality against speed]({os.path.basename(paths['quality_vs_speed'])})", "",
           f"![quality against steps]({os.path.basename(paths['quality_vs_steps'])})", ""]
  with open(paths["report"], "w") as f:
    f.write("\n".join(md) + "\n")
  return paths
