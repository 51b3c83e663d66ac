#!/usr/bin/env bash
# Static security checks of the deployment files (Terraform, Kubernetes, Dockerfile) with
# checkov, installed in its own virtualenv: it pins library versions the app does not use.
# Every skipped check is listed, with its reason, in a comment next to the resource.
# Exit codes: 0 clean, 1 a check failed, 3 checkov could not be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

CHECKOV_VERSION=3.3.30
VENV="${CHECKOV_VENV:-.venv-checkov}"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"

if ! "$VENV/bin/checkov" --version 2>/dev/null | grep -qx "$CHECKOV_VERSION"; then
  echo "Installing checkov $CHECKOV_VERSION into $VENV…" >&2
  if ! { "$PYTHON" -m venv "$VENV" \
         && "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
              "checkov==$CHECKOV_VERSION"; }; then
    echo "checkov could not be installed into $VENV" >&2
    exit 3
  fi
fi

run() { "$VENV/bin/checkov" --skip-download --compact --quiet "$@"; }
status=0
run -d ops/terraform --framework terraform || status=1
run -d ops/k8s --framework kubernetes || status=1
run -f Dockerfile --framework dockerfile || status=1
exit "$status"
