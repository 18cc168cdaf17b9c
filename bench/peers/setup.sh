#!/usr/bin/env bash
# Makes the peers' Python environment (NumPyro on JAX, Pyro on PyTorch, NumPy, Matplotlib) at
# pinned versions, in build/peers-venv (PEERS_VENV overrides the place). Does nothing when the
# environment already holds exactly these versions. Prints the venv's python on its last line.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
venv=${PEERS_VENV:-$root/build/peers-venv}
python=${PYTHON:-python3}

# torch from PyPI: its Linux wheel runs on the CPU (the CUDA libraries it pulls in are unused there)
pins=(
    numpy==2.4.6
    jax==0.10.2
    jaxlib==0.10.2
    numpyro==0.22.0
    torch==2.15.0
    pyro-ppl==1.9.2
    matplotlib==3.11.2
)

complete() {
    [ -x "$venv/bin/python" ] || return 1
    "$venv/bin/python" - "${pins[@]}" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    if version(name) != want:
        sys.exit(1)
import numpy, jax, numpyro, torch, pyro, matplotlib  # noqa: F401  (they import, not just exist)
PY
}

if complete; then
    echo "peers venv complete: $venv" >&2
else
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
        { echo "setup.sh: needs Python >= 3.11 (set PYTHON=...)" >&2; exit 1; }
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --upgrade --quiet pip
    "$venv/bin/python" -m pip install --quiet "${pins[@]}"
    complete || { echo "setup.sh: $venv is still incomplete after installing" >&2; exit 1; }
    echo "peers venv ready: $venv" >&2
fi
echo "$venv/bin/python"
