"""`sanad bench`: speed and memory of the running system, measured, never asserted by tests.

Starts the action server and the Rasa server as in production (real processes, real HTTP),
then times `POST /model/parse` (NLU with the embedding model) and full turns through the REST
channel (NLU + dialogue + action server), and reads the processes' resident memory."""
from __future__ import annotations

import json
import statistics
import time
import urllib.request
import uuid
from pathlib import Path

from bot import paths
from bot.tooling import services
from bot.tooling.calibration import training_examples


def _rss_mb(pid: int) -> dict:
    status = Path(f"/proc/{pid}/status").read_text()
    values = {line.split(":")[0]: int(line.split()[1]) for line in status.splitlines() if line.startswith(("VmRSS", "VmHWM"))}
    return {"rss_mb": round(values.get("VmRSS", 0) / 1024), "peak_mb": round(values.get("VmHWM", 0) / 1024)}


def _post(url: str, body: dict, token: str | None = None) -> dict:
    full = f"{url}?token={token}" if token else url
    request = urllib.request.Request(full, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def _stats(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"n": len(samples), "median_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1), "max_ms": round(ordered[-1], 1)}


def bench(n: int = 200) -> dict:
    from bot.tooling.training import ensure_models

    model, _ = ensure_models()
    texts = [e["text"] for e in training_examples()][: max(n, 1)]
    logs = paths.VAR / "logs"
    actions = services.action_server(log=logs / "actions-bench.log")
    rasa = services.rasa_server(model, actions.health_url.rsplit("/", 1)[0] + "/webhook", log=logs / "rasa-bench.log")
    started = time.perf_counter()
    with services.running(actions):
        rasa.start(timeout=300)
        startup = time.perf_counter() - started
        try:
            for text in texts[:10]:  # warm-up: first calls build TensorFlow functions
                _post(f"{rasa.url}/model/parse", {"text": text}, rasa.token)
            parse = []
            for text in texts:
                t0 = time.perf_counter()
                _post(f"{rasa.url}/model/parse", {"text": text, "metadata": {"fund": "cnss_ma"}}, rasa.token)
                parse.append((time.perf_counter() - t0) * 1000)
            turns = []
            for text in texts[: max(20, n // 4)]:
                t0 = time.perf_counter()
                _post(f"{rasa.url}/webhooks/rest/webhook", {"sender": f"bench-{uuid.uuid4().hex}", "message": text,
                                                             "metadata": {"fund": "cnss_ma"}})
                turns.append((time.perf_counter() - t0) * 1000)
            memory = {"rasa_server": _rss_mb(rasa.process.pid), "action_server": _rss_mb(actions.process.pid)}
        finally:
            rasa.stop()
    return {"model_parse": _stats(parse), "full_turn_rest": _stats(turns), "rasa_startup_s": round(startup, 1),
            "memory": memory, "cpu_count": __import__("os").cpu_count()}
