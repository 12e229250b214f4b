#!/usr/bin/env bash
# All GPUs of one node: one process sees every local device; the batch is split over the `data` mesh axis.
# The global batch must be a multiple of the device count. Shard parameters too (FSDP) by a regex rule:
#   --config.sharding.rules='[(".*kernel", "fsdp"), (".*", "replicate")]'
set -euo pipefail
cd "$(dirname "$0")/../.."
.venv/bin/python launch/train.py --config=configs/ours16.py:dataset=etf3d,scale=paper \
  --config.data.global_batch=$((8 * $(nvidia-smi -L | wc -l))) --workdir=runs/teacher_etf3d "$@"
