#!/usr/bin/env bash
# Makes the export venv at .venv-export: PyTorch (CPU wheels), MONAI, einops, onnx and onnxscript
# from Tools/requirements-export.txt, for the scripts that export PyTorch networks to ONNX
# (Fixtures/onnx/export_networks.py, Tools/bench/onnx_peers.py). The test oracles' venv (.venv,
# Tools/setup.sh) stays free of torch; onnxruntime runs there. CI does not need this venv.
#
#   Tools/setup-export.sh && .venv-export/bin/python Fixtures/onnx/export_networks.py
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-export
if ! "$venv/bin/python3" -m pip --version >/dev/null 2>&1; then
    rm -rf "$venv"
    /usr/bin/python3 -m venv "$venv"
fi
"$venv/bin/python3" -m pip install -q --disable-pip-version-check --index-url https://download.pytorch.org/whl/cpu \
    --extra-index-url https://pypi.org/simple -r Tools/requirements-export.txt
"$venv/bin/python3" -c "import torch, monai, onnx, onnxscript; print('export venv ready: torch', torch.__version__, 'monai', monai.__version__)"
