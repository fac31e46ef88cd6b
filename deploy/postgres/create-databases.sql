-- Run by the postgres image once, when its volume is first initialised (/docker-entrypoint-initdb.d).
-- POSTGRES_DB (sanad_tracker) holds Rasa's conversations; the affiliate API, which stands in for
-- the fund's own system, gets a database of its own (its tables are created by Alembic at start).
CREATE DATABASE sanad_backend;
-- The agent console (gateway/app/agent): accounts, sessions, the audit log of balance look-ups.
-- On a volume initialised before it existed: docker compose exec postgres createdb -U sanad sanad_agent
CREATE DATABASE sanad_agent;
