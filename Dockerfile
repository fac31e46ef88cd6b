# One image for every Sanad service (affiliate API, action server, Rasa, gateway): the project's
# two Python environments (scripts/setup-envs), the e5 embedding checkpoint and the trained model
# are built in, so nothing is downloaded at run time. docker-compose.yml picks the command.
#   docker build -t sanad .    (the first build takes as long as a first `make run`)

FROM python:3.11-slim-bookworm AS build
# gcc: multidict 5.2 (pinned by Rasa 3.6) has no CPython 3.11 wheel and is compiled at install.
# Nothing else: the servers need no Debian package (Chromium and fonts are for the browser tests).
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
# /app belongs to the user too (WORKDIR alone would create it root-owned): the venvs go in it.
RUN useradd --create-home --uid 10001 sanad && install -d -o sanad -g sanad /app
WORKDIR /app
COPY --chown=sanad:sanad . .
USER sanad
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 RASA_TELEMETRY_ENABLED=false \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TF_CPP_MIN_LOG_LEVEL=3
RUN scripts/setup-envs
# The checkpoint (build/) and the model (models/); Rasa's training cache (.rasa/) is not needed after.
RUN .venvs/rasa/bin/sanad model build \
 && .venvs/rasa/bin/sanad train \
 && rm -rf .rasa

# The runtime image: the same base (the venvs point at /usr/local/bin/python3.11), without gcc.
FROM python:3.11-slim-bookworm
RUN useradd --create-home --uid 10001 sanad && install -d -o sanad -g sanad /app
WORKDIR /app
# Owned by the service user: the services write under var/ (SMS outbox of the demo API, logs).
COPY --from=build --chown=sanad:sanad /app /app
USER sanad
ENV PYTHONPATH=/app PYTHONUNBUFFERED=1 RASA_TELEMETRY_ENABLED=false \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TF_CPP_MIN_LOG_LEVEL=3
EXPOSE 8000 5005 5055 8100
CMD [".venvs/rasa/bin/sanad", "--help"]
