"""The benchmark's bookkeeping: parameter counts and stored sizes, ratios to the teacher, the table."""
import numpy as np

from dt_jax.eval import benchmark


def test_sizes_count_components_and_bytes():
  params = {"audio_encoder": {"k": np.zeros((100, 1000), np.float32)}, "denoiser": {"k": np.zeros((500,))},
            "personalizer": {"b": np.zeros((3, 4))}}
  s = benchmark.sizes(params)
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
  benchmark.add_ratios(rows)
  assert rows[1]["speedup"] == {"batch_1": 8.5, "batch_16": 8.5} and rows[1]["size_ratio"] == 0.13
  md = benchmark.table(rows, split="test").splitlines()
  assert md[0].startswith("| Method | Steps | EVE | LVE | FDD | FPS (batch 1) | FPS (batch 16) |")
  assert md[3].startswith("| student-2 | 2 | 2.000 ± 0.200 | 1.000 ± 0.100 | -4.000 | 850 | 8500 | 8.5x |")
  assert "13.0%" in md[3]
