#!/bin/sh
# Health of a queue consumer (`pixtools worker standard|ml`): healthy while the consumer
# keeps touching its heartbeat file, PIXTOOLS_WORKER_HEARTBEAT_FILE, which a live consumer
# does at least every 10 s whether or not Redis answers (a Redis outage is Redis' problem:
# restarting consumers does not fix it and would cut running tasks). Unhealthy once the file
# is missing or older than MAX_AGE seconds (default 30: three missed beats).
# Used by the worker images' HEALTHCHECK and the Kubernetes liveness probes.
set -eu
file="${PIXTOOLS_WORKER_HEARTBEAT_FILE:?PIXTOOLS_WORKER_HEARTBEAT_FILE is not set}"
max_age="${1:-30}"
beat=$(stat -c %Y "$file" 2>/dev/null) || { echo "no heartbeat at $file" >&2; exit 1; }
age=$(( $(date +%s) - beat ))
if [ "$age" -gt "$max_age" ]; then
  echo "last heartbeat ${age}s ago (limit ${max_age}s): the consumer is stuck" >&2
  exit 1
fi
