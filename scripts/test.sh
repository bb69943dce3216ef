#!/usr/bin/env bash
# Set up and run every test: lint, then pytest against PostgreSQL, Redis, a Celery worker, real vLLM CPU, Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh requirements-dev.txt

# Chromium for the browser tests; a CJK font so the OCR test can draw a Chinese scan.
if ! command -v chromium >/dev/null 2>&1 || [ ! -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then
  echo "== installing Debian's chromium and fonts-wqy-microhei for the tests"
  if [ "$(id -u)" = 0 ]; then SUDO=(); else SUDO=(sudo); fi
  "${SUDO[@]}" apt-get install -y -q chromium fonts-wqy-microhei >/dev/null 2>&1 || {
    "${SUDO[@]}" apt-get update -q >/dev/null && "${SUDO[@]}" apt-get install -y -q chromium fonts-wqy-microhei >/dev/null
  }
fi

.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
