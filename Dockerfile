# hexwatch dashboard image: gunicorn serves the Dash app over a store kept on the /data volume.
#
#   docker build -t hexwatch .
#   docker run --rm -v hexwatch-data:/data hexwatch hexwatch boundaries fetch
#   docker run --rm -v hexwatch-data:/data hexwatch hexwatch demo --store /data/store --incidents 1000000 --seed 42
#   docker run -d -p 127.0.0.1:8050:8050 -v hexwatch-data:/data hexwatch
#
# Boundary files are fetched into the volume at run time, never baked into the image:
# the project redistributes no boundary data (see data/boundaries/manifest.toml).
# To serve an edited declarations registry, mount it and point HEXWATCH_DECLARATIONS at it.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY geo ./geo
COPY dashboard ./dashboard
COPY data ./data
# A venv copied whole into the runtime stage: no build tools or sources ship in the image.
RUN python -m venv /opt/hexwatch && /opt/hexwatch/bin/pip install .

FROM python:3.11-slim
ENV PATH=/opt/hexwatch/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HEXWATCH_STORE=/data/store \
    HEXWATCH_CACHE_DIR=/data/boundaries \
    HEXWATCH_DECLARATIONS=/app/data/declarations.csv
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin hexwatch \
    && mkdir -p /data && chown hexwatch:hexwatch /data
COPY --from=build /opt/hexwatch /opt/hexwatch
# Root-owned and read-only for the app: the registry and the boundary manifest.
COPY data /app/data
WORKDIR /app
USER hexwatch
VOLUME ["/data"]
EXPOSE 8050
# slim has no curl; the standard library does the probe. /healthz answers 503 while the store is unreadable.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8050/healthz', timeout=4).status != 200)"]
# exec: the server replaces the shell as PID 1, so docker stop's SIGTERM reaches it.
CMD ["sh", "-c", "exec hexwatch serve --store \"$HEXWATCH_STORE\" --host 0.0.0.0"]
