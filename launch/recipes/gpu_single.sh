#!/usr/bin/env bash
# One GPU. Install JAX with CUDA into the project's venv first:
#   .venv/bin/pip install -U "jax[cuda12]"
# then train the paper-scale teacher on VOCASET (built beforehand with launch/build_data.py --manual_dir=...).
set -euo pipefail
cd "$(dirname "$0")/../.."
.venv/bin/python launch/train.py --config=configs/ours16.py:dataset=vocaset,scale=paper \
  --workdir=runs/teacher_vocaset "$@"
