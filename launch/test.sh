#!/usr/bin/env bash
# The whole test suite: makes .venv when missing, installs dt_jax with its test extras, runs pytest.
#   bash launch/test.sh [pytest args]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh" test
# The Khronos glTF validator (npm) checks the .glb exports where node and npm exist; the Python checks run anyway.
if command -v npm > /dev/null && [ ! -d .venv/npm/node_modules/gltf-validator ]; then
  npm install --silent --prefix .venv/npm gltf-validator@2.0.0-dev.3.10 > /dev/null 2>&1 \
    || echo "[setup] npm could not install gltf-validator; the .glb test checks with Python alone" >&2
fi
# Debian's Chromium, which the browser player's tests drive headless (through Playwright, from PyPI).
debian_packages chromium
# Two workers match CI's two cores; they share one build of the tiny corpus and one tiny student.
exec python -m pytest -n "${PYTEST_WORKERS:-2}" --dist loadfile "$@"
