# agent-runner: one image for the bot and its workers. Slim, non-root, healthy when /readyz is.
#   docker build -t agent-runner .
#   docker run -e AGENT_RUNNER_ADMIN_TOKEN=... -p 8080:8080 -v bot-data:/data agent-runner
# compose.yaml runs a bot, two workers and Redis from it (docs/how-to/deploy.md).
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY agent_runner ./agent_runner
COPY connectors ./connectors
RUN pip install --no-cache-dir --prefix=/install ".[discord,x,telegram,slack,redis,llm,mcp]"

FROM python:3.12-slim
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin bot \
    && mkdir /data && chown bot:bot /data
COPY --from=build /install /usr/local
WORKDIR /app
COPY examples ./examples
ENV PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    AGENT_RUNNER_DATA_DIR=/data \
    HTTP_HOST=0.0.0.0 \
    AGENT_RUNNER_ADMIN_HOST=0.0.0.0
VOLUME /data
USER bot
EXPOSE 8080 8081
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('AGENT_RUNNER_ADMIN_PORT', '8081'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/readyz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["agent-runner"]
CMD ["run", "examples/run.py"]
