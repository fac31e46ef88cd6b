"""The shared stores of `sanad run --scaled N`: PostgreSQL (the conversations, Rasa's SQL tracker
store) and Redis (the conversation locks, and the gateway's state), from the environment with
loopback defaults. Checked before anything starts, so that a server that cannot be reached is one
clear line, not a traceback from each of N Rasa instances half a minute later."""
from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import quote


class StoreUnreachable(RuntimeError):
    """A store that cannot be reached or used; the message is the one line the citizen's IT sees."""


@dataclass(frozen=True)
class Stores:
    postgres_host: str = "127.0.0.1"
    postgres_port: int = 5432
    postgres_db: str = "sanad_tracker"
    postgres_user: str = "postgres"
    postgres_password: str = ""
    redis_host: str = "127.0.0.1"
    redis_port: int = 6379
    redis_password: str = ""
    gateway_redis_db: int = 0  # the gateway's state and the actions' vault; the lock store uses db 1

    @classmethod
    def from_env(cls, env=os.environ) -> "Stores":
        def port(name: str, default: int) -> int:
            value = env.get(name) or str(default)
            if not value.isdigit():
                raise StoreUnreachable(f"{name} must be a port number, not {value!r}")
            return int(value)

        return cls(env.get("SANAD_POSTGRES_HOST") or cls.postgres_host, port("SANAD_POSTGRES_PORT", cls.postgres_port),
                   env.get("SANAD_POSTGRES_DB") or cls.postgres_db, env.get("SANAD_POSTGRES_USER") or cls.postgres_user,
                   env.get("SANAD_POSTGRES_PASSWORD", ""), env.get("SANAD_REDIS_HOST") or cls.redis_host,
                   port("SANAD_REDIS_PORT", cls.redis_port), env.get("SANAD_REDIS_PASSWORD", ""),
                   port("SANAD_GATEWAY_REDIS_DB", cls.gateway_redis_db))

    def rasa_env(self) -> dict[str, str]:
        """The variables bot/endpoints.scaled.yml reads (each must be set, even when empty)."""
        return {"SANAD_POSTGRES_HOST": self.postgres_host, "SANAD_POSTGRES_PORT": str(self.postgres_port),
                "SANAD_POSTGRES_DB": self.postgres_db, "SANAD_POSTGRES_USER": self.postgres_user,
                "SANAD_POSTGRES_PASSWORD": self.postgres_password, "SANAD_REDIS_HOST": self.redis_host,
                "SANAD_REDIS_PORT": str(self.redis_port), "SANAD_REDIS_PASSWORD": self.redis_password}

    def redis_url(self) -> str:
        """The gateway's state and the action server's vault of secrets (actions/balance/vault.py):
        one database, each under its own key prefix."""
        return self.gateway_redis_url()

    def gateway_redis_url(self) -> str:
        auth = f":{quote(self.redis_password, safe='')}@" if self.redis_password else ""
        return f"redis://{auth}{self.redis_host}:{self.redis_port}/{self.gateway_redis_db}"

    def check(self) -> None:
        """Both servers answer, and the conversations' database exists (created when missing)."""
        self.ensure_database()
        self.ping_redis()

    def ensure_database(self) -> bool:
        """Create the tracker database when missing; True when it was created."""
        import psycopg2
        from psycopg2 import sql

        where = f"PostgreSQL at {self.postgres_host}:{self.postgres_port}"
        try:
            # The server's own `postgres` database: the tracker's may not exist yet.
            connection = psycopg2.connect(host=self.postgres_host, port=self.postgres_port, dbname="postgres",
                                          user=self.postgres_user, password=self.postgres_password or None,
                                          connect_timeout=5)
        except psycopg2.Error as error:
            raise StoreUnreachable(f"{where} cannot be reached: {first_line(error)} "
                                   "(set SANAD_POSTGRES_HOST, _PORT, _USER, _PASSWORD)") from None
        connection.autocommit = True  # CREATE DATABASE cannot run in a transaction
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.postgres_db,))
                if cursor.fetchone():
                    return False
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.postgres_db)))
                return True
        except psycopg2.errors.DuplicateDatabase:  # another run created it meanwhile
            return False
        except psycopg2.Error as error:
            raise StoreUnreachable(f"{where}: cannot create the database {self.postgres_db!r}: "
                                   f"{first_line(error)}") from None
        finally:
            connection.close()

    def drop_database(self) -> None:
        """Drop the tracker database (a scratch run's or a test's own), closing its connections."""
        import psycopg2
        from psycopg2 import sql

        connection = psycopg2.connect(host=self.postgres_host, port=self.postgres_port, dbname="postgres",
                                      user=self.postgres_user, password=self.postgres_password or None)
        connection.autocommit = True  # DROP DATABASE cannot run in a transaction
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.postgres_db)))
        finally:
            connection.close()

    def ping_redis(self) -> None:
        import redis

        try:
            redis.Redis(host=self.redis_host, port=self.redis_port, password=self.redis_password or None,
                        socket_timeout=5, socket_connect_timeout=5).ping()
        except redis.RedisError as error:
            raise StoreUnreachable(f"Redis at {self.redis_host}:{self.redis_port} cannot be reached: "
                                   f"{first_line(error)} (set SANAD_REDIS_HOST, _PORT, _PASSWORD)") from None


def first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
