#!/bin/sh
# Start an ml consumer: fetch the DnCNN weights into the models volume on first start, then
# hand the process over (exec) so the consumer receives SIGINT directly and finishes its task.
set -eu
weights="${PIXTOOLS_DNCNN_WEIGHTS:-/app/models/dncnn_color_blind.pth}"
if [ ! -s "$weights" ]; then
    echo "DnCNN weights not found at $weights: fetching them" >&2
    flask --app wsgi pixtools model fetch
fi
exec "$@"
