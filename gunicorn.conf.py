"""gunicorn settings, read by ``gunicorn wsgi:app`` from the working directory.

Command-line flags override them (``gunicorn --bind 127.0.0.1:9000 wsgi:app``). The number
of processes comes from ``WEB_CONCURRENCY``, the variable gunicorn and most platforms use.
"""

import os

# JSON logs and multiprocess metrics (PROMETHEUS_MULTIPROC_DIR): see pixtools/gunicorn_conf.py.
from pixtools.gunicorn_conf import (  # noqa: F401
    child_exit,
    logconfig_dict,
    on_starting,
    post_fork,
)

# /metrics is served on PIXTOOLS_METRICS_PORT alone (the app refuses it on 8000), a port the
# Ingress and compose never publish.
bind = ["0.0.0.0:8000"] + (
    [f"0.0.0.0:{os.environ['PIXTOOLS_METRICS_PORT']}"]
    if os.environ.get("PIXTOOLS_METRICS_PORT") else [])
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads keep a slow upload, or a client waiting for its job (``?wait=``, at most
# PIXTOOLS_MAX_WAITERS of them), from holding a whole process; image work runs in consumers.
worker_class = "gthread"
threads = 8
# Uploads of up to 50 MB on slow links need more than gunicorn's 30 s default.
timeout = 120
# On SIGTERM, requests in flight get this long to finish (below Kubernetes' 30 s grace).
graceful_timeout = 25
keepalive = 5
# Heartbeat files in memory: a container's overlay filesystem can stall them.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# No access log: the app logs every request as JSON, with its request id and without the
# query string (which can hold a signature).
errorlog = "-"
