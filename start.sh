#!/usr/bin/env bash
# InternLM Demo Studio: install into ./.venv (first run only) and start the app or the tests.
#   ./start.sh          install if needed, then serve the app on 127.0.0.1:6006
#   ./start.sh test     install if needed (with test tools), then run the test suite
# TORCH_SPEC / TORCH_INDEX_URL choose the torch build (see README), e.g. for CUDA 12.4:
#   TORCH_SPEC=torch TORCH_INDEX_URL=https://download.pytorch.org/whl/cu124 ./start.sh
set -euo pipefail
cd "$(dirname "$0")"
mode="${1:-app}"
PY="${PYTHON:-python3}"

if [ ! -x .venv/bin/python ]; then
  echo "start.sh: creating ./.venv with $PY" >&2
  "$PY" -m venv .venv
fi
VPY=.venv/bin/python
stamp=.venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)-$mode
say() { echo "start.sh: $*" >&2; }
if [ ! -f "$stamp" ]; then
  t0=$SECONDS
  say "installing into ./.venv (first run, or pyproject.toml changed): usually 2-3 minutes," \
    "most of it downloading torch; pip shows its progress below."
  say "[1/3] upgrading pip"
  "$VPY" -m pip install -q --upgrade pip
  if ! "$VPY" -c "import torch" 2>/dev/null; then
    say "[2/3] installing ${TORCH_SPEC:-torch==2.13.0} (the largest download: a CUDA build is a few GB)"
    "$VPY" -m pip install --progress-bar on "${TORCH_SPEC:-torch==2.13.0}" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
  else
    say "[2/3] torch is already installed: kept as is"
  fi
  if [ "$mode" = test ]; then
    say "[3/3] installing the app and the test tools"
    "$VPY" -m pip install --progress-bar on -e ".[test]"
  else
    say "[3/3] installing the app"
    "$VPY" -m pip install --progress-bar on -e .
  fi
  touch "$stamp"
  say "installed in $((SECONDS - t0)) s; next runs skip this step."
fi

case "$mode" in
  app)
    "$VPY" -m demo_core.classroom  # the Class page's teacher code (made on the first start)
    exec .venv/bin/streamlit run app.py ;;
  test)
    .venv/bin/ruff check .
    exec "$VPY" -m pytest -q "${@:2}" ;;
  *)
    echo "usage: ./start.sh [app|test [pytest args]]" >&2; exit 2 ;;
esac
