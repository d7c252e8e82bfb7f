# syntax=docker/dockerfile:1.7
# One image for every psp process: `psp serve` by default; the same image runs `psp relay`,
# `psp worker payables`, `psp jobs settle`, `psp db upgrade` and `psp scheduler` (set the command).
# Build: docker build -t psp .   (BuildKit; needs requirements.lock at the repo root)

# --- build: wheels for the pinned dependencies and for psp itself ----------------------------------
FROM python:3.12-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src

# Dependencies first, exactly as locked, so this layer is reused until requirements.lock changes.
COPY requirements.lock ./
RUN pip wheel --wheel-dir /wheels -r requirements.lock

COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-deps --wheel-dir /wheels .

# --- runtime: the wheels installed into a clean slim image, no compilers, no build context ----------
FROM python:3.12-slim-bookworm AS runtime

LABEL org.opencontainers.image.title="psp" \
      org.opencontainers.image.description="Payment service provider: API, outbox relay, payables worker, settlement jobs"

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PSP_ENV=production \
    PSP_HOST=0.0.0.0 \
    PSP_PORT=8000

RUN groupadd --system --gid 10001 psp \
 && useradd --system --uid 10001 --gid psp --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin psp

# The wheels are bind-mounted from the build stage, so they never become a layer of this image.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    --mount=type=bind,source=requirements.lock,target=/tmp/requirements.lock \
    pip install --no-index --find-links=/wheels -r /tmp/requirements.lock \
 && pip install --no-index --no-deps /wheels/psp-*.whl \
 && python -m compileall -q "$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"

# Alembic migrations for `psp db upgrade`, read-only and owned by root.
WORKDIR /app
COPY migrations ./migrations

USER 10001:10001
EXPOSE 8000

# Liveness only; python because the slim image has no curl. Non-HTTP processes (relay, worker, jobs)
# override or disable it (docker-compose.yml, ECS task definitions).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PSP_PORT', '8000'), timeout=3)"]

CMD ["psp", "serve"]
