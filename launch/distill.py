"""Distills the 16-step teacher into the 2-step student by step halving (16 -> 8 -> 4 -> 2), or trains an ablation.

  python launch/distill.py --config=configs/ours2.py:dataset=synthetic_talkers,scale=small \\
      --teacher=runs/teacher --workdir=runs/student
  (variant=no_identity|no_emotion|no_enhancer|no_distillation; --config.distill.end_steps=1 goes on to one step)
Each round is saved under <workdir>/steps_N; running the same command again skips finished rounds and resumes
the one that was interrupted; a preempted run (SIGTERM) saves and exits 143. An unfinished teacher is refused
(--allow_unfinished to distill it anyway); each round records the teacher checkpoint it came from, and rounds of
an older checkpoint are set aside (<round>.teacher_<step>) and distilled again. Multi-host flags as for
launch/train.py.
"""
import sys

from absl import app
from absl import flags
from ml_collections import config_flags
import exits
import multihost_flags
import run_flags

from dt_jax.distill import rounds
from dt_jax.train import checkpoint
from dt_jax.train import distributed
import tfds_builders

_CONFIG = config_flags.DEFINE_config_file("config", None, "configs/ours2.py:<args>", lock_config=True)
_TEACHER = flags.DEFINE_string("teacher", None, "The teacher's training workdir.", required=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Where the rounds' checkpoints and logs go.", required=True)


def main(argv):
  del argv
  checkpoint.quiet_orbax_logs()
  multihost_flags.initialize()
  cfg = _CONFIG.value
  distributed.prepare_data(cfg, tfds_builders.build)
  result = exits.guarded("distill", rounds.distill, cfg, teacher_dir=_TEACHER.value, workdir=_WORKDIR.value,
                         allow_unfinished=run_flags.ALLOW_UNFINISHED.value)
  for n, path in result["rounds"].items():
    print(f"{n}-step student: {path}")
  if "last" in result:
    print(f"last round: loss {result['last'].get('train/loss', float('nan')):.4f}")


if __name__ == "__main__":
  exits.check_config("distill", sys.argv)
  app.run(main)
