"""Joins evaluation JSONs (from launch/evaluate.py) into one markdown table, printed and written beside them.

  python launch/eval_table.py --eval_dir=runs/demo/eval --names=static,teacher16,student2
"""
import json
import os

from absl import app
from absl import flags

from dt_jax.eval import evaluator

_DIR = flags.DEFINE_string("eval_dir", None, "Folder holding <name>.json files.", required=True)
_NAMES = flags.DEFINE_list("names", None, "Rows, in order.", required=True)


def main(argv):
  del argv
  rows = {}
  for name in _NAMES.value:
    path = os.path.join(_DIR.value, f"{name}.json")
    if not os.path.exists(path):
      raise FileNotFoundError(f"{path} is missing: run launch/evaluate.py for {name} first")
    with open(path) as f:
      rows[name] = next(iter(json.load(f).values()))
  text = next(iter(rows.values()))["space"] + "\n\n" + evaluator.table(rows)
  with open(os.path.join(_DIR.value, "table.md"), "w") as f:
    f.write(text + "\n")
  print(text)


if __name__ == "__main__":
  app.run(main)
