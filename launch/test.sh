#!/usr/bin/env bash
# The whole test suite: makes .venv when missing, installs dt_jax with its test extras, runs pytest.
#   bash launch/test.sh [pytest args]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh" test
# Two workers match CI's two cores; each test module builds the tiny corpus at most once per worker.
exec python -m pytest -n "${PYTEST_WORKERS:-2}" --dist loadfile "$@"
