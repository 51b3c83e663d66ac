# syntax=docker/dockerfile:1
#
# One Dockerfile, three images:
#   docker build --target api             -t pixtools/api .
#   docker build --target worker-standard -t pixtools/worker-standard .
#   docker build --target worker-ml       -t pixtools/worker-ml .
#
# Layers, bottom up: the slim base; the locked dependencies (their stages see only the lock's
# exports and scripts/install-deps.sh, so code and doc edits never reinstall them; torch has
# a layer of its own under the ml ones); for worker-ml the DnCNN weights, fetched by checksum;
# then the app: wsgi.py and the wheel built from pixtools/ (page assets and migrations in it).
#
# api and worker-standard carry no PyTorch. worker-ml installs the CPU build of torch; for
# NVIDIA GPUs build it with the CUDA wheels instead (they bring the CUDA runtime; the host
# needs only the driver and the NVIDIA container toolkit):
#   docker build --target worker-ml --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 \
#                -t pixtools/worker-ml:cuda .

ARG PYTHON_VERSION=3.11

# --- base: the slim runtime every stage starts from ---------------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
# A fixed uid/gid so volumes and Kubernetes securityContext (runAsUser 10001) agree.
RUN groupadd --system --gid 10001 pixtools \
 && useradd --system --uid 10001 --gid pixtools --home-dir /app --no-create-home \
            --shell /usr/sbin/nologin pixtools

# --- dependencies: a virtualenv per kind of image, from the lock's exports alone ----------
FROM base AS deps-standard
WORKDIR /src
RUN python -m venv /opt/venv
COPY scripts/install-deps.sh scripts/
COPY requirements/runtime.txt requirements/
RUN bash scripts/install-deps.sh /opt/venv/bin/python runtime

FROM base AS deps-ml
WORKDIR /src
RUN python -m venv /opt/venv
COPY scripts/install-deps.sh scripts/
# torch first, in its own layer: it changes only with its pinned version (or the index).
# Empty means scripts/install-deps.sh's own default, the PyTorch CPU index.
ARG TORCH_INDEX_URL=
COPY requirements/torch.txt requirements/
RUN TORCH_INDEX_URL="${TORCH_INDEX_URL}" bash scripts/install-deps.sh /opt/venv/bin/python torch
COPY requirements/ml.txt requirements/
RUN TORCH_INDEX_URL="${TORCH_INDEX_URL}" bash scripts/install-deps.sh /opt/venv/bin/python ml

# --- the app as a wheel: templates, static files, vendored page assets and the migrations ---
FROM base AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY pixtools ./pixtools
RUN pip wheel --no-deps --wheel-dir /dist .

# --- runtime: what every image runs with; code owned by root, run as pixtools -------------
FROM base AS runtime
WORKDIR /app
# /app/data is the only place the app may write.
RUN mkdir -p /app/data && chown pixtools:pixtools /app/data
ENV PIXTOOLS_MODE=server \
    PIXTOOLS_DATA_DIR=/app/data \
    PIXTOOLS_DNCNN_WEIGHTS=/app/models/dncnn_color_blind.pth

# --- api: gunicorn on :8000 (settings in gunicorn.conf.py) ---------------------------------
FROM runtime AS api
COPY --from=deps-standard /opt/venv /opt/venv
COPY wsgi.py gunicorn.conf.py ./
RUN --mount=type=bind,from=wheel,source=/dist,target=/dist \
    pip install --no-deps --no-compile /dist/*.whl
USER pixtools
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=4)"]
CMD ["gunicorn", "wsgi:app"]

# --- consumers: healthy while `pixtools worker` touches its heartbeat file -----------------
FROM runtime AS consumer
COPY --chmod=0755 ops/docker/heartbeat-check.sh /usr/local/bin/pixtools-heartbeat-check
# In /tmp: writable in the image, an emptyDir in Kubernetes (read-only root filesystem).
ENV PIXTOOLS_WORKER_HEARTBEAT_FILE=/tmp/pixtools-worker.heartbeat
# Huey finishes the running task on SIGINT (SIGTERM would interrupt it).
STOPSIGNAL SIGINT

# --- worker-standard: Pillow work; the scheduler is this image without --no-periodic --------
FROM consumer AS worker-standard
COPY --from=deps-standard /opt/venv /opt/venv
COPY wsgi.py gunicorn.conf.py ./
RUN --mount=type=bind,from=wheel,source=/dist,target=/dist \
    pip install --no-deps --no-compile /dist/*.whl
USER pixtools
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["pixtools-heartbeat-check"]
CMD ["pixtools", "worker", "standard", "--no-periodic"]

# --- worker-ml: DnCNN denoise on CPU, the weights baked in ---------------------------------
FROM consumer AS worker-ml
COPY --from=deps-ml /opt/venv /opt/venv
# The released weights, verified by sha256 (the app's pixtools/ml/weights.py names the same
# URL and digest); cached by checksum, so neither code edits nor scaling fetch them again.
# checkov:skip=CKV_DOCKER_4: ADD fetches one remote file and verifies it (--checksum); COPY cannot.
ADD --checksum=sha256:dfe11a6b703304df82cdf236f431fc6492766c7b9119d97e943edeb392c710a3 \
    --chmod=0444 \
    https://github.com/cszn/KAIR/releases/download/v1.0/dncnn_color_blind.pth \
    /app/models/dncnn_color_blind.pth
COPY wsgi.py gunicorn.conf.py ./
RUN --mount=type=bind,from=wheel,source=/dist,target=/dist \
    pip install --no-deps --no-compile /dist/*.whl
USER pixtools
# Loading torch and the weights takes a while on a small CPU before the first beat.
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
  CMD ["pixtools-heartbeat-check"]
CMD ["pixtools", "worker", "ml"]
