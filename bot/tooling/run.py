"""`sanad run`: Sanad on one machine with the embedded defaults (SQLite files for the
conversations and the affiliates, in-memory lock store, Telegram off unless a token is configured). Builds the embedding
checkpoint and trains the model first when missing or stale, then starts the affiliate API, the
action server, the Rasa server (REST channel, token-protected HTTP API) and the gateway, and opens
a terminal chat. A service whose process dies is started again, with a back-off, and the run says
why; only SIGTERM or Ctrl-C stops it all."""
from __future__ import annotations

import json
import os
import secrets
import stat
import sys
import time
import urllib.request
import uuid

from bot import paths
from bot.tooling import services
from bot.tooling.stores import StoreUnreachable, Stores


def terminal_chat(rasa_url: str, fund: str, token: str | None = None) -> None:
    """A plain terminal conversation over Rasa's REST channel."""
    sender = f"terminal-{uuid.uuid4().hex[:8]}"
    print(f"Sanad ({fund}) - type your question; empty line or Ctrl-D to quit.")
    while True:
        try:
            text = input("vous> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return
        if not text:
            return
        try:
            replies = post_message(rasa_url, sender, text, fund)
        except OSError:  # Rasa is being restarted (sanad run does it by itself)
            print("sanad> (not reachable just now; send your message again in a few seconds)")
            continue
        for reply in replies:
            print(f"sanad> {reply.get('text', '')}")
            for button in reply.get("buttons") or []:
                print(f"       [{button['title']}]  ->  {button['payload']}")


def post_message(rasa_url: str, sender: str, text: str, fund: str) -> list[dict]:
    body = json.dumps({"sender": sender, "message": text, "metadata": {"fund": fund}}).encode()
    request = urllib.request.Request(f"{rasa_url}/webhooks/rest/webhook", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def make_var_private() -> None:
    """var/ holds the conversations, the affiliates' database, the Rasa token and the logs: what
    the run and its services create there is for their own user only (umask 077, inherited by
    the services), and var/ with what is directly in it, left readable by an older run, is
    tightened. Not a shared directory (sticky, as /tmp) that SANAD_VAR_DIR might name."""
    os.umask(0o077)
    paths.VAR.mkdir(mode=0o700, parents=True, exist_ok=True)
    if _ours_and_not_shared(paths.VAR):
        paths.VAR.chmod(0o700)
        for entry in paths.VAR.iterdir():
            if _ours_and_not_shared(entry) and not entry.is_symlink():
                entry.chmod(0o700 if entry.is_dir() else 0o600)


def _ours_and_not_shared(path) -> bool:
    info = path.lstat()
    return info.st_uid == os.getuid() and not info.st_mode & stat.S_ISVTX


def say(text: str) -> None:
    print(text, flush=True)


def run(fund: str, chat: bool = True, rasa_port: int = 5005, scaled: int = 0, rasa_processes: int = 1) -> int:
    """`sanad run`; with `scaled` N > 0, N Rasa instances (ports rasa_port, rasa_port + 1...) on the
    shared stores of bot/tooling/stores.py instead of the embedded SQLite file and in-memory locks;
    else `rasa_processes` Rasa processes on the embedded stores (one Rasa process runs one message's
    NLU at a time: a second uses the second core)."""
    from bot.tooling.training import ensure_models

    stores = None
    if scaled:
        try:
            stores = Stores.from_env()
            stores.check()  # before the model: a missing server is said at once
        except StoreUnreachable as error:
            print(f"sanad run --scaled: {error}", file=sys.stderr, flush=True)
            return 2
    print("Preparing the model (built and trained only when missing or stale)...", flush=True)
    model, _ = ensure_models()
    make_var_private()
    logs = paths.VAR / "logs"
    token = os.environ.get("SANAD_RASA_TOKEN") or secrets.token_urlsafe(24)
    backend = services.backend_server(port=int(os.environ.get("SANAD_BACKEND_PORT", "8100")), log=logs / "backend.log")
    # Scaled: the balance form's secrets (actions/balance/vault.py) in Redis, so a restarted
    # action server finds a verification in progress; in memory only by default.
    vault = {"SANAD_REDIS_URL": stores.redis_url()} if stores else {}
    actions = services.action_server(port=int(os.environ.get("SANAD_ACTIONS_PORT", "5055")),
                                     log=logs / "actions.log", SANAD_FUND=fund, SANAD_BACKEND_URL=backend.url, **vault)
    action_url = actions.health_url.rsplit("/", 1)[0] + "/webhook"
    rasas = rasa_instances(model, action_url, token, fund, rasa_port, logs, stores, scaled or max(rasa_processes, 1))
    gateway = services.gateway_server(rasas[0].url, fund, token, port=int(os.environ.get("SANAD_GATEWAY_PORT", "8000")),
                                      log=logs / "gateway.log", SANAD_GATEWAY_AGENT_BACKEND_URL=backend.url,
                                      **gateway_scaling(rasas, stores))
    what = f"{len(rasas)} Rasa servers (PostgreSQL {stores.postgres_host}:{stores.postgres_port}/{stores.postgres_db}, " \
           f"Redis {stores.redis_host}:{stores.redis_port})" if stores else \
        "the Rasa server" if len(rasas) == 1 else f"{len(rasas)} Rasa processes"
    print(f"Starting the affiliate API, the action server, {what} and the gateway...", flush=True)
    # Supervised: a service whose process dies is restarted on its port (services.Supervisor);
    # only SIGTERM or Ctrl-C ends the run. The Rasa instances load their model at the same time.
    with services.supervised(backend, actions, rasas, gateway, say=say):
        services.write_private(paths.VAR / "rasa-token", token)
        rest = "\n".join(f"  REST channel  POST {rasa.url}/webhooks/rest/webhook  {{\"sender\": \"me\", \"message\": \"...\"}}"
                         for rasa in rasas)
        print(f"Sanad is up for {fund}:\n"
              f"  web chat demo {gateway.url}/  (the widget on a mock fund page)\n"
              f"  agent console {gateway.url}/agent/  (accounts: sanad agents create NAME --fund F --role agent|supervisor)\n"
              f"  affiliate API {backend.url}/docs (demo affiliates: backend/README.md; SMS codes: var/sms-outbox/)\n"
              f"{rest}\n"
              f"  Rasa HTTP API {rasas[0].url}/model/parse (its token: SANAD_RASA_TOKEN, else the file {paths.VAR / 'rasa-token'})\n"
              f"  logs          {logs}", flush=True)
        if chat and sys.stdin.isatty():
            terminal_chat(rasas[0].url, fund)
        else:
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    return 0


def rasa_instances(model, action_url: str, token: str, fund: str, first_port: int, logs, stores: Stores | None,
                   count: int) -> list[services.Service]:
    """The embedded Rasa server (logs/rasa.log), or `count` of them on consecutive ports, each with
    its own log (logs/rasa-1.log...), on the embedded stores or the shared ones. On the embedded
    stores each process has its own in-memory conversation locks: that is safe because the gateway
    sends a conversation always to the same process (gateway/app/rasa_client.py), and to another
    only when the first cannot have received the message."""
    if stores is None and count == 1:
        return [services.rasa_server(model, action_url, port=first_port, token=token, log=logs / "rasa.log",
                                     SANAD_FUND=fund)]
    shared = {"endpoints": services.SCALED_ENDPOINTS, **stores.rasa_env()} if stores else {}
    return [services.rasa_server(model, action_url, port=first_port + i, token=token, log=logs / f"rasa-{i + 1}.log",
                                 name=f"rasa-{i + 1}", SANAD_FUND=fund, **shared)
            for i in range(count)]


def gateway_scaling(rasas: list[services.Service], stores: Stores | None) -> dict[str, str]:
    """The gateway's settings for several Rasa instances: all their URLs (it spreads the
    conversations and goes to the next when one refuses connections), and its state in Redis."""
    if stores is None:
        # One gateway process: its state stays in memory; only the Rasa processes are several.
        return {"SANAD_GATEWAY_RASA_URLS": ",".join(rasa.url for rasa in rasas)} if len(rasas) > 1 else {}
    return {"SANAD_GATEWAY_RASA_URLS": ",".join(rasa.url for rasa in rasas),
            "SANAD_GATEWAY_REDIS_URL": os.environ.get("SANAD_GATEWAY_REDIS_URL") or stores.gateway_redis_url()}
