#!/usr/bin/env bash
# Install PixTools' dependencies from the lock, the one way the Makefile, the Dockerfile and
# CI install them:  scripts/install-deps.sh PYTHON PROFILE
#   runtime  the app (api and worker-standard images)
#   torch    torch alone (the worker-ml image installs it in a layer of its own)
#   ml       the app and the ml extra (worker-ml image, `make run`)
#   test     the app and the dev tools, without torch (for a Python with no torch at hand)
#   dev      the app, the ml extra and the dev tools (`make test`, CI)
# requirements/PROFILE.txt is uv.lock exported by scripts/lock.sh: every package pinned and
# hash-checked, installed with --no-deps (nothing is resolved here). The caller installs the
# project itself afterwards (`pip install --no-deps -e .`, or the built wheel).
#
# torch is the exception: the lock cannot pin the PyTorch CPU index's files, so torch comes
# from that index alone (never from PyPI, whose Linux wheel is the multi-gigabyte CUDA
# build), at the version in requirements/torch.txt, without a hash. TORCH_INDEX_URL below is
# the one place that index is named; set it to another (e.g. .../whl/cu128) for CUDA.
# pip's own configuration still applies: where pip.conf lists a folder of wheels
# (find-links) holding that torch, pip installs it from there.
set -euo pipefail
cd "$(dirname "$0")/.."
usage="usage: scripts/install-deps.sh PYTHON runtime|torch|ml|test|dev"
python="${1:?$usage}"
profile="${2:?$usage}"
TORCH_INDEX_URL="${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}"

pip() { "$python" -m pip --disable-pip-version-check "$@"; }
case "$profile" in
  torch|ml|dev) pip install --quiet --no-deps --index-url "$TORCH_INDEX_URL" -r requirements/torch.txt ;;
  runtime|test) ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
if [ "$profile" != torch ]; then
  pip install --quiet --require-hashes --no-deps -r "requirements/$profile.txt"
  # Every installed package's own requirements are met by the pinned set (torch's too).
  pip check
fi
