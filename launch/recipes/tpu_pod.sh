#!/usr/bin/env bash
# TPU VM pod slice: the same command on every worker; --multihost calls jax.distributed.initialize() with no
# arguments, which finds the peers itself on TPU VMs. Data must be on every worker (or a shared bucket mounted as data_dir).
#   gcloud compute tpus tpu-vm ssh $TPU --zone=$ZONE --worker=all --command="cd dt_jax && bash launch/recipes/tpu_pod.sh"
# Install first on every worker: .venv/bin/pip install -U "jax[tpu]"
set -euo pipefail
cd "$(dirname "$0")/../.."
.venv/bin/python launch/train.py --config=configs/ours16.py:dataset=etf3d,scale=paper \
  --config.data.global_batch=512 --workdir=runs/teacher_tpu --multihost "$@"
