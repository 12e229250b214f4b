# Sourced by launch/test.sh and launch/demo.sh: makes .venv when missing and installs the project into it.
# Usage: source launch/setup_env.sh [extras]   e.g. "test"
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
EXTRAS="${1:-}"
SPEC="."
[ -n "$EXTRAS" ] && SPEC=".[${EXTRAS}]"
# Re-install only when the package metadata changed since the last install (fast re-runs).
STAMP=".venv/.dt_jax_installed"
WANT="$(cat setup.cfg pyproject.toml | sha256sum | cut -d' ' -f1) ${EXTRAS}"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  echo "[setup] installing dt_jax${EXTRAS:+[$EXTRAS]} into .venv"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$SPEC" 2>&1 | grep -v "is ignored" || true
  .venv/bin/python -c "import dt_jax, tfds_builders" || { echo "[setup] install failed" >&2; exit 1; }
  echo "$WANT" > "$STAMP"
fi
export PATH="$ROOT/.venv/bin:$PATH"
