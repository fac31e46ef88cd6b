"""Command line of the affiliate API.

    python -m backend.app.manage migrate            upgrade the database to the latest revision
    python -m backend.app.manage seed [--today D]   migrate, then create/reset the demo affiliates
    python -m backend.app.manage openapi [--check]  write (or compare) backend/openapi.json
    python -m backend.app.manage serve [--seed]     migrate (and seed), then serve with uvicorn
    python -m backend.app.manage purge              delete expired verifications, tokens, locks (the API
                                                    also does it at start and every hour)
    python -m backend.app.manage sms-code PHONE     the last one-time code sent to PHONE (demo outbox)
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from backend.app.core.config import Settings

OPENAPI_PATH = Path(__file__).resolve().parents[1] / "openapi.json"


def openapi_document() -> dict:
    from backend.app.main import create_app

    return create_app(Settings()).openapi()


def render_openapi(document: dict) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.app.manage",
                                     description="Sanad affiliate API: database, contract, server.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="upgrade the database to the latest Alembic revision")
    seed = commands.add_parser("seed", help="migrate, then create or reset the demo affiliates")
    seed.add_argument("--today", type=date.fromisoformat)
    openapi = commands.add_parser("openapi", help="write the OpenAPI document to backend/openapi.json")
    openapi.add_argument("--check", action="store_true", help="only compare; exit 1 when it differs")
    openapi.add_argument("--output", type=Path, default=OPENAPI_PATH)
    serve = commands.add_parser("serve", help="migrate, then serve the API with uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8100)
    serve.add_argument("--seed", action="store_true", help="also create/reset the demo affiliates")
    commands.add_parser("purge", help="delete expired verifications, tokens, locks and old failures")
    sms_code = commands.add_parser("sms-code", help="print the last code the outbox holds for a phone")
    sms_code.add_argument("phone", help="E.164, as in the demo table of backend/README.md")
    args = parser.parse_args(argv)
    settings = Settings()

    if args.command == "migrate":
        from backend.app.db.migrate import upgrade

        upgrade(settings.DATABASE_URL)
    elif args.command == "seed":
        from backend.app.seed import main as seed_main

        seed_main([f"--today={args.today}"] if args.today else [])
    elif args.command == "openapi":
        text = render_openapi(openapi_document())
        if args.check:
            current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
            if current != text:
                print(f"{args.output} is out of date: run python -m backend.app.manage openapi",
                      file=sys.stderr)
                return 1
            return 0
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    elif args.command == "serve":
        import uvicorn

        from backend.app.db.migrate import upgrade
        from backend.app.seed import seed_database

        if args.seed:
            seed_database(settings)
        else:
            upgrade(settings.DATABASE_URL)
        from bot import json_logs

        # SANAD_LOG_FORMAT=json: one masked JSON object per line (bot/json_logs.py), uvicorn's
        # loggers included (log_config=None leaves them to the root handler).
        json_lines = json_logs.configure("backend")
        uvicorn.run("backend.app.main:app", host=args.host, port=args.port,
                    **({"log_config": None} if json_lines else {}))
    elif args.command == "purge":
        from backend.app.api import deps
        from backend.app.db.session import make_engine, make_sessionmaker
        from backend.app.retention import purge_in_new_session

        engine = make_engine(settings.DATABASE_URL)
        counts = purge_in_new_session(make_sessionmaker(engine), settings, deps.utc_now())
        engine.dispose()
        print(", ".join(f"{table}: {n}" for table, n in counts.items()))
    elif args.command == "sms-code":
        from backend.app.sms import latest_code

        code = latest_code(settings.SMS_OUTBOX_DIR, args.phone)
        if code is None:
            print("no code sent to that phone in the outbox", file=sys.stderr)
            return 1
        print(code)
    return 0


if __name__ == "__main__":
    sys.exit(main())
