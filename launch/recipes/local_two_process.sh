#!/usr/bin/env bash
# Two CPU processes on this machine joined by jax.distributed (gloo collectives): a rehearsal of multi-host
# training. Each process reads its own rows of every global batch.
set -euo pipefail
cd "$(dirname "$0")/../.."
PORT="${PORT:-12355}"
for i in 0 1; do
  .venv/bin/python launch/train.py --config=configs/ours16.py:dataset=synthetic_talkers,scale=tiny \
    --workdir=runs/two_process --coordinator=127.0.0.1:$PORT --num_processes=2 --process_id=$i "$@" &
done
wait
