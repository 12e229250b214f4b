"""The benchmark's bookkeeping (parameter counts and stored sizes, ratios to the teacher, the tables) and its
speed-and-size mode on models built from configs."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from dt_jax.bench import measure
from dt_jax.bench import report
from dt_jax.bench import rows as rows_lib
import tfds_builders


def test_sizes_count_components_and_bytes():
  params = {"audio_encoder": {"k": np.zeros((100, 1000), np.float32)}, "denoiser": {"k": np.zeros((500,))},
            "personalizer": {"b": np.zeros((3, 4))}}
  s = measure.sizes(params)
  assert s["params"] == {"audio_encoder": 100_000, "personalizer": 12, "denoiser": 500}
  assert s["total_params"] == 100_512
  assert abs(s["mb_float32"] - 4 * 100_512 / 2**20) < 0.01 and abs(s["mb_bfloat16"] - 2 * 100_512 / 2**20) < 0.01


def _row(name, kind, steps, fps, params):
  return {"name": name, "kind": kind, "num_steps": steps, "device": "CPU (x, 2 cores)",
          "quality": {"test": {"mean": dict(lve=1.0, eve=2.0, mve=3.0, fdd=-4.0, abs_fdd=4.0),
                               "std": dict(lve=0.1, eve=0.2, mve=0.3, fdd=0.4, abs_fdd=0.4)}},
          "speed": {"batch_1": {"fps": fps}, "batch_16": {"fps": 10 * fps}},
          "size": {"total_params": params, "mb_float32": params * 4 / 2**20}}


def test_ratios_and_table():
  rows = [_row("teacher-16", "teacher", 16, 100.0, 1000), _row("student-2", "student", 2, 850.0, 130)]
  report.add_ratios(rows)
  assert rows[1]["speedup"] == {"batch_1": {"median": 8.5}, "batch_16": {"median": 8.5}}
  assert rows[1]["size_ratio"] == 0.13
  md = report.table(rows, split="test").splitlines()
  assert md[0].startswith("| Method | Steps | EVE | LVE | FDD | FPS (batch 1) | FPS (batch 16) |")
  assert md[3].startswith("| student-2 | 2 | 2.000 ± 0.200 | 1.000 ± 0.100 | -4.000 | 850 | 8500 | 8.5x |")
  assert "13.0%" in md[3]


def test_speed_table_has_every_batch_and_the_ratios():
  rows = [_row("teacher-16", "teacher", 16, 100.0, 1000), _row("student-2", "student", 2, 850.0, 130)]
  report.add_ratios(rows)
  md = report.speed_table(rows).splitlines()
  assert md[0] == ("| Method | Steps | FPS (batch 1) | FPS (batch 16) | speed-up (batch 1) | speed-up (batch 16) | "
                   "params (M) | Size fp32 (MB) | Size vs teacher | device |")
  assert md[3].startswith("| student-2 | 2 | 850 | 8500 | 8.5x | 8.5x | 0.00 | 0.00 | 13.0% |")


def test_interleaved_ratios_on_a_synthetic_clock():
  """The interleaved timer on a clock that each call advances: a model against itself is exactly 1x, a model
  twice as fast 2x, and a machine slowing down over the run moves both sides of every pair, not the ratio."""
  from dt_jax.bench import timing  # pylint: disable=g-import-not-at-top
  now = [0.0]
  slow = [1.0]
  def model(cost):
    def call():
      now[0] += cost * slow[0]
      slow[0] *= 1.01                                   # the machine gets slower and slower
    return call
  a, b = model(2.0), model(1.0)
  same = timing.interleaved(a, a, pairs=9, clock=lambda: now[0])
  assert same["median"] == pytest.approx(1.0, rel=0.02) and same["pairs"] == 9
  fast = timing.interleaved(a, b, pairs=10, clock=lambda: now[0])
  assert fast["median"] == pytest.approx(2.0, rel=0.02) and fast["q25"] <= fast["median"] <= fast["q75"]


def test_generators_compile_each_timed_call_once(monkeypatch):
  """The FPS and the interleaved speed-ups share one compiled call per (run, steps, batch)."""
  from dt_jax.bench import timing  # pylint: disable=g-import-not-at-top
  built = []
  monkeypatch.setattr(timing, "generator", lambda run, **kw: built.append(kw) or (lambda: None, 1.0, 30))
  generators, run = timing.Generators(clip_seconds=1.0), object()
  assert generators.get(run, num_steps=2, batch=1) is generators.get(run, num_steps=2, batch=1)
  generators.get(run, num_steps=2, batch=8)
  generators.get(run, num_steps=4, batch=8)
  assert [(b["num_steps"], b["batch"], b["clip_seconds"]) for b in built] == [(2, 1, 1.0), (2, 8, 1.0), (4, 8, 1.0)]
  with pytest.raises(ValueError, match="1.0 s clips"):
    timing.speed(run, num_steps=2, batch=1, clip_seconds=2.0, reps=1, generators=generators)


def test_verdict_says_which_metrics_agree_with_the_paper():
  def row(name, kind, lve, eve, upper):
    return {"name": name, "kind": kind, "num_steps": 2, "device": "cpu",
            "quality": {"test": {"mean": {"lve": lve, "eve": eve, "abs_fdd": 1.0, "contrast_ratio": 0.9,
                                          "loudness_ratio": 0.9},
                                 "distribution": {"upper_face_energy_mm": upper, "best_lve": lve,
                                                  "lips_energy_mm": 1.0, "upper_face_diversity_ratio": 0.8}}}}
  results = [row("student-2", "student", 2.0, 1.0, 0.1), row("no_distillation", "ablation", 1.5, 0.8, 0.3)]
  md = report.verdict(results, split="test").splitlines()
  assert md[0].startswith("| paper's ordering (its metrics) | LVE | EVE |")
  cells = [c.strip() for c in md[2].split("|")[1:-1]]
  assert cells[0] == "student-2 better than no_distillation (EVE, LVE, FDD)"
  assert cells[1:6] == ["no", "no", "no", "no", "yes"]          # LVE, EVE, |FDD| (a tie), best-of-N, upper energy


def test_untrained_rows_are_the_configs_teacher_and_student(tmp_path):
  from configs import ours16, ours2  # pylint: disable=g-import-not-at-top
  arg = "dataset=vocaset,scale=tiny"
  info = tfds_builders.builder(ours16.get_config(arg).data.name, data_dir=str(tmp_path)).info
  rows = rows_lib.untrained_rows(ours16.get_config(arg), ours2.get_config(arg), info=info)
  assert [(r.name, r.num_steps, r.kind) for r in rows] == [("teacher-16", 16, "teacher"), ("student-8", 8, "student"),
                                                           ("student-4", 4, "student"), ("student-2", 2, "student")]
  teacher, student = (measure.sizes(rows[k].run.params)["params"] for k in (0, 3))
  assert rows[0].run.dataset.motion_dim == 5023 * 3 and len(rows[0].run.dataset.speakers) == 12
  assert teacher["denoiser"] == student["denoiser"] and teacher["personalizer"] == student["personalizer"]
  assert student["audio_encoder"] < teacher["speech_encoder"] / 8 and "encoder_projection" not in teacher
  assert "audio_encoder" not in teacher                   # the tiny teacher hears through Whisper tiny.en
  assert not os.listdir(tmp_path)                         # nothing was built or downloaded
  with pytest.raises(ValueError, match="set when it is built"):
    rows_lib.untrained_rows(ours16.get_config("dataset=etf3d,scale=tiny"), ours2.get_config("dataset=etf3d,scale=tiny"),
                            info=tfds_builders.builder("etf3d", data_dir=str(tmp_path)).info)


@pytest.mark.slow
def test_benchmark_launcher_times_untrained_models(tmp_path):
  """`launch/benchmark.py --untrained=...` as a user runs it: speed and size of the config's pair, no data."""
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  run = lambda *a: subprocess.run([sys.executable, "launch/benchmark.py", *a], cwd=root, capture_output=True,
                                  text=True, timeout=300)
  proc = run("--untrained=dataset=synthetic_talkers,scale=tiny", "--teacher=runs/x", f"--out={tmp_path}/x")
  assert proc.returncode != 0 and "either --teacher" in proc.stderr
  out = str(tmp_path / "speed")
  proc = run("--untrained=dataset=synthetic_talkers,scale=tiny", "--clip_seconds=1", "--large_batch=2", "--reps=1",
             "--pairs=3", "--large_batch_pairs=2", f"--data_dir={tmp_path}/nodata", f"--out={out}")
  assert proc.returncode == 0, proc.stderr[-3000:]
  results = json.load(open(os.path.join(out, "results.json")))
  rows = {r["name"]: r for r in results["rows"]}
  assert list(rows) == ["teacher-16", "student-8", "student-4", "student-2"]
  for r in rows.values():
    assert r["weights"] == "random" and r["quality"] == {} and set(r["speed"]) == {"batch_1", "batch_2"}
    assert all(s["fps"] > 0 and s["frames"] == 30 for s in r["speed"].values())
  assert rows["teacher-16"]["speedup"]["batch_1"]["median"] == 1.0 and rows["student-2"]["size_ratio"] < 1.0
  assert rows["student-2"]["speedup"]["batch_1"]["pairs"] == 3                 # interleaved timings
  assert rows["student-2"]["speedup"]["batch_2"]["pairs"] == 2
  table = open(os.path.join(out, "table.md")).read()
  assert table.startswith("### speed and size") and "| student-2 | 2 |" in table and "| student-2 | 2 |" in proc.stdout
  report = open(os.path.join(out, "report.md")).read()
  assert "random weights" in report and not os.path.exists(os.path.join(out, "quality_vs_speed.png"))


def test_benchmark_launcher_measures_every_round_and_resumes(distilled, teacher_dir, tiny_data_dir, tmp_path):
  """launch/benchmark.py as a user runs it: rows for the teacher, each round and an ablation, the sharded path on
  the 8 simulated devices, the report; run again, it keeps the measured rows."""
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  workdir, _ = distilled
  out = str(tmp_path / "bench")
  cmd = [sys.executable, "launch/benchmark.py", f"--teacher={teacher_dir}", f"--student={workdir}",
         f"--ablation=copy:{workdir}/steps_2", "--split=test,test_unseen", "--samples=2", "--clip_seconds=1",
         "--large_batch=8", "--reps=1", "--pairs=2", "--device_count=8", f"--data_dir={tiny_data_dir}", f"--out={out}"]
  proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  results = json.load(open(os.path.join(out, "results.json")))
  rows = {r["name"]: r for r in results["rows"]}
  assert list(rows) == ["static", "teacher-4", "student-2", "student-1", "copy"]
  for name, r in rows.items():
    assert set(r["quality"]) == {"test", "test_unseen"} and len(r["quality"]["test"]["seeds"]) == 2
    assert r["device"] == results["device"] and r["device"].startswith("CPU")
    if name == "static":
      assert "speed" not in r and r["quality"]["test"]["std"]["lve"] == 0.0
      continue
    assert set(r["speed"]) == {"batch_1", "batch_8", "sharded"} and r["speed"]["sharded"]["devices"] == 8
    assert all(s["fps"] > 0 and s["compile_s"] > 0 and s["frames"] == 30 for s in r["speed"].values())
    assert r["size"]["mb_bfloat16"] < 0.6 * r["size"]["mb_float32"]
    d = r["quality"]["test"]["distribution"]                          # 2 samples against the clips' 4 alternates
    assert 0 < d["upper_face_energy_floor_mm"] < d["upper_face_energy_static_mm"] and d["lips_diversity_ratio"] >= 0
    stream = r["streaming"]["lookahead_200"]
    assert stream["latency_ms_p50"] >= 200 and stream["rtf"] > 0 and stream["lve_vs_offline"] >= 0
    if name != "teacher-4":
      assert r["speedup"]["batch_1"]["pairs"] == 2 and r["speedup"]["batch_1"]["median"] > 0
  assert rows["teacher-4"]["speedup"]["batch_1"]["median"] == 1.0
  assert rows["student-2"]["size_ratio"] < 1.0 and rows["copy"]["num_steps"] == 2
  assert rows["copy"]["quality"]["test"] == rows["student-2"]["quality"]["test"]     # same run, same seeds
  assert rows["student-2"]["quality"]["test"]["std"]["lve"] > 0                       # seeds differ
  report = open(os.path.join(out, "report.md")).read()
  assert "| student-1 | 1 |" in report and "quality_vs_speed.png" in report and "against the true distribution" in report
  assert "### streaming" in report
  for png in ("quality_vs_speed.png", "metrics_vs_steps.png"):
    assert os.path.getsize(os.path.join(out, png)) > 10_000
  proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0 and "measuring" not in proc.stderr + proc.stdout, proc.stderr[-3000:]
  # The same name pointing at another run is measured again, not reported from the cache (issue 38, item 4).
  cmd = [f"--ablation=copy:{workdir}/steps_1" if a.startswith("--ablation=") else a for a in cmd]
  proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  said = (proc.stderr + proc.stdout).splitlines()
  assert [line for line in said if line.startswith("measuring ")] == ["measuring copy (1 steps)"]
  assert any("was measured with another" in line and "run" in line for line in said)
  rows = {r["name"]: r for r in json.load(open(os.path.join(out, "results.json")))["rows"]}
  assert rows["copy"]["num_steps"] == 1 and rows["copy"]["quality"]["test"] == rows["student-1"]["quality"]["test"]
