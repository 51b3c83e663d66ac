#!/usr/bin/env bash
# The page's browser assets: installed from the npm registry (versions pinned in
# package-lock.json) and copied to pixtools/static/vendor, which the app serves.
# No CDN at run time, and nothing copied into the repository by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null 2>&1; then
  echo "npm is needed for the page's assets: install Node.js and npm (e.g. apt-get install npm)" >&2
  exit 1
fi
npm ci --no-audit --no-fund --loglevel=error
vendor=pixtools/static/vendor
mkdir -p "$vendor/fonts"
cp node_modules/htmx.org/dist/htmx.min.js "$vendor/htmx.min.js"
cp node_modules/@fontsource-variable/space-grotesk/files/space-grotesk-latin-wght-normal.woff2 \
   "$vendor/fonts/space-grotesk-latin-wght-normal.woff2"
echo "page assets ready in $vendor"
