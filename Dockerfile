# syntax=docker/dockerfile:1
#
# One Dockerfile, three images:
#   docker build --target api             -t pixtools/api .
#   docker build --target worker-standard -t pixtools/worker-standard .
#   docker build --target worker-ml       -t pixtools/worker-ml .
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

# --- build stages: virtualenvs only; nothing here reaches an image but /opt/venv ----------
FROM base AS build-standard
WORKDIR /src
RUN python -m venv /opt/venv
# Dependencies first (from pyproject alone) so code edits do not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir pixtools && touch pixtools/__init__.py \
 && pip install . && pip uninstall --yes pixtools && rm -rf pixtools build
COPY pixtools ./pixtools
RUN pip install --no-deps . && rm -rf build

FROM build-standard AS build-ml
# Only the CPU wheel index here: PyPI's default torch wheel is the multi-gigabyte CUDA build.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# The `ml` extra pins the same torch==2.13.0, which the local version (+cpu) satisfies.
RUN pip install --index-url "${TORCH_INDEX_URL}" torch==2.13.0

# --- runtime: code the commands need, owned by root, run as pixtools -------------------------
FROM base AS runtime
WORKDIR /app
COPY wsgi.py gunicorn.conf.py ./
COPY migrations ./migrations
# /app/models holds the DnCNN weights (a volume in compose and Kubernetes); /app/data is the
# only other place the app may write.
RUN mkdir -p /app/models /app/data && chown pixtools:pixtools /app/models /app/data
ENV PIXTOOLS_MODE=server \
    PIXTOOLS_DATA_DIR=/app/data \
    PIXTOOLS_DNCNN_WEIGHTS=/app/models/dncnn_color_blind.pth

# --- api: gunicorn on :8000 (settings in gunicorn.conf.py) ---------------------------------
FROM runtime AS api
COPY --from=build-standard /opt/venv /opt/venv
USER pixtools
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=4)"]
CMD ["gunicorn", "wsgi:app"]

# --- worker-standard: Pillow work; the scheduler is this image without --no-periodic --------
FROM runtime AS worker-standard
COPY --from=build-standard /opt/venv /opt/venv
USER pixtools
# Huey finishes the running task on SIGINT (SIGTERM would interrupt it).
STOPSIGNAL SIGINT
CMD ["pixtools", "worker", "standard", "--no-periodic"]

# --- worker-ml: DnCNN denoise on CPU; fetches the weights into /app/models when absent ------
FROM runtime AS worker-ml
COPY --from=build-ml /opt/venv /opt/venv
COPY --chmod=0755 ops/docker/worker-ml-entrypoint.sh /usr/local/bin/worker-ml-entrypoint
USER pixtools
VOLUME ["/app/models"]
STOPSIGNAL SIGINT
ENTRYPOINT ["worker-ml-entrypoint"]
CMD ["pixtools", "worker", "ml"]
