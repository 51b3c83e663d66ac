#!/usr/bin/env bash
# PixTools in server mode on this machine, one command (Docker with compose v2):
#   scripts/compose-up.sh
# The first run writes .env with generated secrets (private to you, reused on every later
# run: compose.yaml requires them and has no defaults), then builds the images and starts
# the stack, waiting until the api is healthy. Later runs rebuild and restart what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f .env ]; then
  secret() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
  (
    umask 077
    cat > .env <<ENV
# Secrets for docker compose, written by scripts/compose-up.sh. Keep this file private.
PIXTOOLS_SECRET_KEY=$(secret)
POSTGRES_PASSWORD=$(secret)
MINIO_ROOT_PASSWORD=$(secret)
PIXTOOLS_S3_PASSWORD=$(secret)
# For other machines on your network, with this host's address (see compose.yaml):
# PIXTOOLS_PUBLIC_URL=http://192.168.1.20:8000
# PIXTOOLS_S3_PUBLIC_URL=http://192.168.1.20:9000
# MINIO_BIND=0.0.0.0
ENV
  )
  echo "Wrote .env with generated secrets."
fi
# The api and everything it needs (database, Redis, MinIO, bucket, migrations), healthy;
# then the consumers.
docker compose up --build --detach --wait --wait-timeout 600 api
docker compose up --detach
public_url=$(sed -n 's/^PIXTOOLS_PUBLIC_URL=//p' .env)
cat <<DONE
PixTools is running. Open ${public_url:-http://localhost:8000} in a browser.
API key for scripts: docker compose exec api flask --app wsgi pixtools apikey create --name me
State: docker compose ps · logs: docker compose logs -f · stop: docker compose down
DONE
