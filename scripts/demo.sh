#!/usr/bin/env bash
# The main job on a fresh machine: set up, ingest the sample set, print two cited answers, serve the web app.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
./scripts/setup.sh requirements.txt
echo "== set-up took $(( $(date +%s) - started )) s"
exec .venv/bin/python manage.py demo "$@"
