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
HASH="$(cat setup.cfg pyproject.toml | sha256sum | cut -d' ' -f1)"
WANT="$HASH ${EXTRAS}"
HAVE="$(cat "$STAMP" 2>/dev/null || true)"
# Up to date when the same metadata was installed with these extras (or with more, when none are asked for).
if [ "$HAVE" != "$WANT" ] && { [ -n "$EXTRAS" ] || [ "${HAVE%% *}" != "$HASH" ]; }; then
  echo "[setup] installing dt_jax${EXTRAS:+[$EXTRAS]} into .venv"
  if ! .venv/bin/python -m pip install --disable-pip-version-check -e "$SPEC" > .venv/pip-install.log 2>&1; then
    tail -n 40 .venv/pip-install.log >&2
    echo "[setup] pip install failed; the whole log is .venv/pip-install.log" >&2
    exit 1
  fi
  echo "$WANT" > "$STAMP"
fi
export PATH="$ROOT/.venv/bin:$PATH"
