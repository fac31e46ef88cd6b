"""Command line of the agent console (`sanad agents ...`, `sanad audit verify` call it).

    python -m gateway.app.agent.manage migrate
    python -m gateway.app.agent.manage agents create NAME --fund FUND --role agent|supervisor [--password-stdin]
    python -m gateway.app.agent.manage agents disable NAME
    python -m gateway.app.agent.manage agents reset-password NAME [--password-stdin]
    python -m gateway.app.agent.manage agents list
    python -m gateway.app.agent.manage audit verify

A generated password (and a supervisor's TOTP secret) is printed once and stored only hashed
(the secret as such: the server needs it to check codes). The database is SANAD_GATEWAY_AGENT_DATABASE_URL."""
from __future__ import annotations

import argparse
import re
import sys
from datetime import datetime, timezone
from typing import Optional

from sqlalchemy import select

from gateway.app.agent import audit, security
from gateway.app.agent.config import AgentSettings
from gateway.app.agent.db.migrate import upgrade
from gateway.app.agent.db.models import Account
from gateway.app.agent.db.session import make_engine, make_sessionmaker
from gateway.app.agent.funds import known_funds

NAME = re.compile(r"^[a-z0-9._@-]{1,64}$")


class Refused(Exception):
    """A command that cannot be done as asked: its message says why (exit 2)."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _password(from_stdin: bool) -> tuple[str, bool]:
    """(password, generated)."""
    if not from_stdin:
        return security.generated_password(), True
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        security.check_password_policy(password)
    except ValueError as problem:
        raise Refused(str(problem)) from None
    return password, False


def _account(db, name: str) -> Account:
    account = db.scalar(select(Account).where(Account.name == name.strip().lower()))
    if account is None:
        raise Refused(f"no account named {name!r}")
    return account


def create(db, name: str, fund: str, role: str, from_stdin: bool) -> list[str]:
    name = name.strip().lower()
    if not NAME.fullmatch(name):
        raise Refused("a name is 1 to 64 of a-z 0-9 . _ @ -")
    if db.scalar(select(Account).where(Account.name == name)) is not None:
        raise Refused(f"an account named {name!r} already exists")
    password, generated = _password(from_stdin)
    account = Account(name=name, fund=fund, role=role, password_hash=security.hash_password(password),
                      totp_secret=security.new_totp_secret() if role == "supervisor" else None,
                      created_at=_now())
    db.add(account)
    db.commit()
    lines = [f"created {role} {name} ({fund})"]
    if generated:
        lines.append(f"password (shown once): {password}")
    if account.totp_secret:
        lines += ["second factor: add this to an authenticator app now (shown once)",
                  f"  secret: {account.totp_secret}", f"  uri:    {security.totp_uri(account)}"]
    return lines


def disable(db, name: str) -> list[str]:
    account = _account(db, name)
    account.disabled_at = account.disabled_at or _now()
    ended = security.end_sessions(db, account)
    db.commit()
    return [f"disabled {account.name}; {ended} session(s) ended"]


def reset_password(db, name: str, from_stdin: bool) -> list[str]:
    account = _account(db, name)
    password, generated = _password(from_stdin)
    account.password_hash = security.hash_password(password)
    ended = security.end_sessions(db, account)
    db.commit()
    lines = [f"new password for {account.name}; {ended} session(s) ended"]
    if generated:
        lines.append(f"password (shown once): {password}")
    return lines


def list_accounts(db) -> list[str]:
    return [f"{a.name}\t{a.fund}\t{a.role}\t{'disabled' if a.disabled_at else 'active'}"
            for a in db.scalars(select(Account).order_by(Account.fund, Account.name))]


def verify(db) -> tuple[int, list[str]]:
    verdict = audit.verify(db)
    if verdict.ok:
        return 0, [f"audit log intact: {verdict.rows} row(s); head {verdict.head}"]
    return 1, [f"audit log BROKEN at row {verdict.row}: {verdict.problem}",
               f"({verdict.rows} row(s) verified before it)"]


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="sanad", description="Sanad agent console: accounts and audit log.")
    commands = top.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="create or upgrade the console's tables")
    agents = commands.add_parser("agents", help="console accounts").add_subparsers(dest="what", required=True)
    create_p = agents.add_parser("create", help="create an account (password generated unless --password-stdin)")
    create_p.add_argument("name")
    create_p.add_argument("--fund", required=True, choices=known_funds())
    create_p.add_argument("--role", required=True, choices=security.ROLES)
    create_p.add_argument("--password-stdin", action="store_true",
                          help=f"read the password from the first line of stdin (at least {security.MIN_PASSWORD_CHARS} characters)")
    agents.add_parser("disable", help="disable an account and end its sessions").add_argument("name")
    reset = agents.add_parser("reset-password", help="set a new password and end the account's sessions")
    reset.add_argument("name")
    reset.add_argument("--password-stdin", action="store_true")
    agents.add_parser("list", help="the accounts, their fund, role and state")
    audit_p = commands.add_parser("audit", help="the balance look-ups' audit log").add_subparsers(dest="what", required=True)
    audit_p.add_parser("verify", help="check the hash chain; exit 1 naming the first altered or removed row")
    return top


def main(argv: Optional[list[str]] = None, settings: Optional[AgentSettings] = None) -> int:
    args = parser().parse_args(argv)
    settings = settings or AgentSettings()
    upgrade(settings.DATABASE_URL)
    if args.command == "migrate":
        print("agent console database up to date")
        return 0
    engine = make_engine(settings.DATABASE_URL)
    try:
        with make_sessionmaker(engine)() as db:
            code, lines = run(db, args)
    except Refused as problem:
        print(f"sanad: {problem}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print("\n".join(lines))
    return code


def run(db, args) -> tuple[int, list[str]]:
    if args.command == "audit":
        return verify(db)
    if args.what == "create":
        return 0, create(db, args.name, args.fund, args.role, args.password_stdin)
    if args.what == "disable":
        return 0, disable(db, args.name)
    if args.what == "reset-password":
        return 0, reset_password(db, args.name, args.password_stdin)
    return 0, list_accounts(db)


if __name__ == "__main__":
    sys.exit(main())
