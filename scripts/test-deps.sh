#!/usr/bin/env bash
# What the test suite needs beyond Python packages: Debian's Chromium for the browser tests,
# and the locked npm devDependencies (axe-core, lighthouse) the page's tests run in it.
# `make run` needs neither: the page's own browser assets are committed.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "Installing Debian's chromium for the browser tests…"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is not installed: run 'sudo apt-get install chromium' (browser tests need it)" >&2
  fi
fi
if command -v npm >/dev/null 2>&1; then
  # Only when the lock changed since the last install (npm ci starts from scratch).
  if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.installed-lock; then
    npm ci --no-audit --no-fund --loglevel=error
    cp package-lock.json node_modules/.installed-lock
  fi
else
  echo "npm is not installed: the page's axe-core and Lighthouse tests need Node.js and npm" >&2
fi
