# syntax=docker/dockerfile:1
# Build a wheel, then run it as a non-root user: migrations first, then the server.

FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir build==1.2.2
COPY pyproject.toml README.md ./
COPY src ./src
COPY migrations ./migrations
RUN python -m build --wheel --outdir /dist

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    NOTEGATEWAY_DATA_DIR=/var/lib/notegateway
RUN groupadd --system notegateway \
 && useradd --system --gid notegateway --home-dir /var/lib/notegateway --create-home notegateway
COPY --from=build /dist/*.whl /tmp/
RUN pip install --no-cache-dir /tmp/*.whl && rm /tmp/*.whl
USER notegateway
WORKDIR /var/lib/notegateway
EXPOSE 8000
# Liveness, not readiness: a database outage answers 503 and must not get the container
# restarted (it recovers by itself when the database is back).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=4).status == 200 else 1)"
# On SIGTERM the server answers open long polls at once and gives requests in progress up
# to 10 s: run with a stop grace above that (`docker run --stop-timeout 15`, or
# `stop_grace_period: 15s` in compose); Docker's default of 10 s would cut the last ones.
STOPSIGNAL SIGTERM
LABEL org.opencontainers.image.stop-grace-seconds="15"
CMD ["sh", "-c", "notegateway migrate && exec notegateway serve --host 0.0.0.0 --port 8000"]
