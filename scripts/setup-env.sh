#!/usr/bin/env bash
# Create .venv in the project and install the project into it, with the
# extras given as the first argument (default: cli).
#
# PyTorch is installed first, preferring a CPU build that is already at hand:
#   1. torch importable by python3 already: the venv sees it;
#   2. a torch wheel in pip's local find-links (such as /opt/wheels);
#   3. the CPU wheel from download.pytorch.org;
#   4. torch from PyPI (on Linux a CUDA build of several GB).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-cli}"
python=${PYTHON:-python3}

if [ ! -x .venv/bin/python ]; then
  if "$python" -c "import torch" 2>/dev/null; then
    echo "setup: using the torch already installed for $python"
    "$python" -m venv --system-site-packages .venv
  else
    "$python" -m venv .venv
  fi
fi
pip=(.venv/bin/python -m pip --disable-pip-version-check -q)

if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  wheels=$(mktemp -d)
  trap 'rm -rf "$wheels"' EXIT
  if "${pip[@]}" download --no-deps --no-index -d "$wheels" "torch>=2.2" 2>/dev/null; then
    echo "setup: installing the local torch wheel $(basename "$wheels"/torch-*.whl)"
    "${pip[@]}" install "$wheels"/torch-*.whl
  elif "${pip[@]}" install --index-url https://download.pytorch.org/whl/cpu \
      "torch>=2.2" 2>/dev/null; then
    echo "setup: installed the CPU build of torch from download.pytorch.org"
  else
    echo "setup: installing torch from PyPI"
    "${pip[@]}" install "torch>=2.2"
  fi
fi

"${pip[@]}" install -e ".[$extras]"
