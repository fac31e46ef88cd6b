"""The call-centre agents' console (issue 16), served by the gateway under `/agent/`.

    /agent/                      the console page (static HTML/CSS/JS, French and Arabic)
    /agent/api/auth/...          sign in (argon2id passwords, TOTP for supervisors), sign out, me
    /agent/api/assist            the fund's best knowledge-base entries for what the agent typed
    /agent/api/balance-lookups   a caller's masked balance, every attempt written to the audit log
    /agent/api/audit...          the audit log (supervisors only), filtered, as JSON or CSV

Accounts, sessions, the audit log and suggestion events live in the console's own database
(SQLAlchemy, Alembic: SQLite by default, PostgreSQL when configured). Every query is scoped to
the fund of the signed-in account, taken from its server-side session, never from the request.
Accounts are managed from the command line: `python -m gateway.app.agent.manage` (`sanad agents`)."""
