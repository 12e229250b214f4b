"""Renders ground truth beside models' samples for one held-out clip, with its audio.

  python launch/render_compare.py --runs=teacher-16:runs/teacher,student-2:runs/student --split=test \\
      --out=runs/demo/render
Each run is name:workdir (a teacher workdir, a distill workdir -> its fewest-steps round, or a round folder),
sampled with its own step count (name:workdir:steps to override). Writes compare_<split>_<index>.mp4 (GIF when
no ffmpeg exists) and a PNG contact sheet.
"""
from absl import app
from absl import flags
import common_flags
import run_flags

from dt_jax.render import clips
from dt_jax.runs import sampling
from dt_jax.train import checkpoint

_RUNS = flags.DEFINE_list("runs", None, "name:workdir[:steps], comma separated.", required=True)
_SPLIT = flags.DEFINE_string("split", "test", "Split to take the clip from.")
_CLIP = flags.DEFINE_integer("clip", 0, "Which of the split's showcase clips (render_data's order).")
_SEED = common_flags.noise_seed()
_DATA_DIR = common_flags.data_dir()
_OUT = common_flags.out("runs/demo/render")
flags.adopt_module_key_flags(common_flags)   # the shared flags show in --help


def main(argv):
  del argv
  checkpoint.quiet_orbax_logs()
  run_flags.check_out("render_compare", _OUT.value)
  runs = []
  for item in _RUNS.value:
    parts = item.split(":")
    if len(parts) not in (2, 3) or not all(parts):
      raise app.UsageError(f"--runs item {item!r}: expected name:workdir[:steps]")
    runs.append(parts)
  motions, ds, index = {}, None, None
  for parts in runs:
    run = run_flags.load_run("render_compare", parts[1], data_dir=_DATA_DIR.value)
    if ds is None:
      ds = run.dataset
      order = clips.pick(ds, split=_SPLIT.value, num_clips=_CLIP.value + 1)
      if _CLIP.value >= len(order):
        raise app.UsageError(f"--clip={_CLIP.value}: split {_SPLIT.value!r} has {len(order)} clips")
      index = order[_CLIP.value]
    motions[parts[0]] = sampling.sample_clip(run, ds.splits[_SPLIT.value][index], seed=_SEED.value,
                                              num_steps=int(parts[2]) if len(parts) == 3 else None)
  for path in clips.render_comparison(ds, split=_SPLIT.value, index=index, motions=motions, out_dir=_OUT.value):
    print(path)


if __name__ == "__main__":
  app.run(main)
