#!/usr/bin/env bash
# Refresh the page's vendored browser assets after changing package.json / package-lock.json:
# installs the locked npm packages and copies the files package.json's "vendor" map names
# into pixtools/static/vendor, which is committed. Builds (wheel, sdist, images, CI) never
# need npm; tests/deploy/test_assets.py checks the committed files against the lock.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null 2>&1; then
  echo "npm is needed to refresh the vendored assets: install Node.js and npm" >&2
  exit 1
fi
npm ci --no-audit --no-fund --loglevel=error
vendor=pixtools/static/vendor
python3 - "$vendor" <<'PY'
import json, shutil, sys
from pathlib import Path

vendor = Path(sys.argv[1])
for target, source in json.loads(Path("package.json").read_text())["vendor"].items():
    dest = vendor / target
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path("node_modules") / source, dest)
    print(f"{dest} <- {source}")
PY
echo "page assets refreshed in $vendor: commit them"
