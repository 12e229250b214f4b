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

# Debian packages the project needs beyond pip (installed with apt-get where we run as root, as CI does):
# usage: debian_packages PKG...
debian_packages() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" > /dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
    echo "[setup] apt-get install ${missing[*]}"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
      > .venv/apt-install.log 2>&1 || { tail -n 20 .venv/apt-install.log >&2; echo "[setup] apt-get failed" >&2; return 1; }
  else
    echo "[setup] please install the Debian packages ${missing[*]} (not root, or no apt-get here)" >&2
  fi
}
# The renderer (VTK's wheel) draws offscreen through Mesa's EGL.
if command -v dpkg > /dev/null; then debian_packages libegl1 libegl-mesa0; fi
