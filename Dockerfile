# The adapter (API) and the worker: one image, two commands. Built by .github/workflows/deploy.yml;
# tests/e2e/test_metrics_image_entrypoints.py runs both commands, from the files this image
# holds, against the local stack.
#   api:    python -m edge_adapter.api --host 0.0.0.0 --port 8000   (the CMD; uvicorn with the
#           settings' limits; set LSP_TRUSTED_PROXIES to the load balancer's address)
#   worker: python -m edge_adapter.worker --metrics-port 9464 --metrics-host 0.0.0.0
# One process per container (scale with containers; each is its own Prometheus target).
# Settings come from the environment (README "Configuration reference"); metrics scraped from
# another host need LSP_METRICS_TOKEN. Health: GET /healthz on 8000 (api), /metrics on 9464
# (worker, with the token).

FROM python:3.11-slim-bookworm AS build
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/app/.venv
# The locked dependencies only, without the dev group: reused until uv.lock changes.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev
COPY edge_adapter ./edge_adapter
# /readyz compares the database with the newest migration the release contains.
COPY supabase/migrations ./supabase/migrations

FROM python:3.11-slim-bookworm
RUN groupadd --system --gid 10001 lsp \
  && useradd --system --uid 10001 --gid lsp --no-create-home --shell /usr/sbin/nologin lsp
WORKDIR /app
COPY --from=build /app /app
ENV PATH="/app/.venv/bin:$PATH" PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
# Non-root; the code is owned by root and read-only to the service user.
USER 10001:10001
EXPOSE 8000 9464
# Production mode (the default) refuses development secrets at start.
# SIGTERM drains both: uvicorn finishes open requests; the worker lets in-flight jobs finish
# within --grace and releases the rest.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "edge_adapter.api", "--host", "0.0.0.0", "--port", "8000"]
