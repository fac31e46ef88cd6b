"""The Docker Compose deployment: docker-compose.yml, Dockerfile, deploy/, bot/endpoints.scaled.yml.

There is no Docker engine in CI, so the compose file and the Dockerfile are checked statically.
The scaled endpoints are checked for real: Rasa's own loaders build the tracker store on the
PostgreSQL of SANAD_TEST_POSTGRES_URL and the lock store on the Redis of SANAD_TEST_REDIS_URL.
Those two tests skip when their server is unreachable, unless SANAD_REQUIRE_POSTGRES=1 or
SANAD_REQUIRE_REDIS=1 (set by .ci/run) make them fail."""
from __future__ import annotations

import ast
import asyncio
import os
import re
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / "deploy" / "env.example"
SCALED = REPO / "bot" / "endpoints.scaled.yml"
# The services of the design's docker-compose.yml: the whole system, PostgreSQL, Redis, Rasa replicas.
SERVICES = {"postgres", "redis", "backend", "actions", "rasa", "rasa-lb", "gateway"}
SANAD_SERVICES = {"backend", "actions", "rasa", "gateway"}  # the ones running the Sanad image
SECRETS = {"SANAD_POSTGRES_PASSWORD", "SANAD_REDIS_PASSWORD", "SANAD_RASA_TOKEN", "SANAD_SERVICE_TOKEN",
           "SANAD_BACKEND_SECRET_KEY", "SANAD_GATEWAY_SESSION_SECRET", "SANAD_AGENT_BACKEND_TOKEN"}
VAR = re.compile(r"(?<!\$)\$\{(\w+)(:?[-?][^}]*)?\}")  # ${VAR}, ${VAR:-default}, ${VAR:?error}; not $${...}
POSTGRES_URL = os.environ.get("SANAD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SANAD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class ComposeLoader(yaml.SafeLoader):
    """PyYAML's safe loader without the `${VAR}` resolver that importing Rasa adds to every loader
    (it would try to expand Compose's `${VAR:-default}` itself, and fail)."""


ComposeLoader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "!env_var"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.load(COMPOSE.read_text(encoding="utf-8"), Loader=ComposeLoader)


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def uncommented(path: Path) -> str:
    """A YAML file without its comments (which mention `${VAR}` in prose)."""
    return re.sub(r"(^|\s)#.*$", "", path.read_text(encoding="utf-8"), flags=re.M)


def env_example() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.lstrip().startswith("#"))
    return {name.strip(): value.strip() for name, value in pairs}


def settings_fields(module: Path, name: str = "Settings") -> set[str]:
    """The fields of `class <name>` in a pydantic-settings module, read from its source (the
    FastAPI side's pydantic 2 cannot be imported in this environment)."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    (cls,) = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == name]
    return {node.target.id for node in cls.body if isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name) and node.target.id.isupper()}


# --- the compose file, statically ---------------------------------------------------------------

def test_compose_has_the_services_of_the_design(services):
    assert SERVICES <= set(services), f"missing: {SERVICES - set(services)}"


def test_rasa_runs_replicas_behind_the_load_balancer_unpublished(services):
    rasa = services["rasa"]
    assert rasa["deploy"]["replicas"] >= 2
    assert "ports" not in rasa and "container_name" not in rasa  # a fixed name forbids replicas
    assert services["gateway"]["environment"]["SANAD_GATEWAY_RASA_URL"] == "http://rasa-lb:5005"
    conf = (REPO / "deploy" / "nginx" / "rasa-lb.conf").read_text(encoding="utf-8")
    assert re.search(r"server\s+rasa:5005\s+resolve;", conf) and re.search(r"listen\s+5005;", conf)


def test_only_the_gateway_publishes_a_port(services):
    assert {name for name, service in services.items() if service.get("ports")} == {"gateway"}
    assert services["gateway"]["ports"] == ["${SANAD_HTTP_PORT:-8000}:8000"]


def test_every_compose_variable_is_in_env_example_and_back():
    used = {match[0] for match in VAR.findall(uncommented(COMPOSE))}
    listed = set(env_example())
    assert used - listed == set(), "used by docker-compose.yml but not in deploy/env.example"
    assert listed - used == set(), "in deploy/env.example but not used by docker-compose.yml"


def test_the_action_server_requires_rasas_credential_and_publishes_no_port(services):
    actions = services["actions"]
    assert actions["command"][:3] == [".venvs/rasa/bin/python", "-m", "actions.server"]  # not rasa_sdk's open server
    assert "ports" not in actions
    assert actions["environment"]["SANAD_ACTIONS_TOKEN"].startswith("${SANAD_ACTIONS_TOKEN:?")
    assert services["rasa"]["environment"]["SANAD_ACTIONS_TOKEN"] == "${SANAD_ACTIONS_TOKEN}"


def test_secrets_are_required_and_have_no_value_in_env_example():
    text = uncommented(COMPOSE)
    example = env_example()
    for name in SECRETS:
        forms = {suffix for var, suffix in VAR.findall(text) if var == name}
        assert any(form.startswith(":?") for form in forms), f"{name} never uses ${{{name}:?...}}"
        assert not any(form.startswith((":-", "-")) for form in forms), f"{name} must have no default"
        # empty in the template: an unedited copy stops Compose instead of running on known secrets
        assert example[name] == "", f"{name} has a value in deploy/env.example"


def test_fastapi_settings_in_compose_are_real_fields(services):
    gateway_fields = settings_fields(REPO / "gateway" / "app" / "config.py")
    # the agent console's settings (SANAD_GATEWAY_AGENT_...), read by the gateway too
    gateway_fields |= {f"AGENT_{name}" for name in settings_fields(REPO / "gateway" / "app" / "agent" / "config.py",
                                                                   "AgentSettings")}
    backend_fields = settings_fields(REPO / "backend" / "app" / "core" / "config.py")
    assert {"RASA_URL", "SESSION_SECRET"} <= gateway_fields and "DATABASE_URL" in backend_fields
    for service, prefix, fields in (("gateway", "SANAD_GATEWAY_", gateway_fields),
                                    ("backend", "SANAD_BACKEND_", backend_fields)):
        # SANAD_LOG_FORMAT: read by the logging set-up both share (bot/json_logs.py), not a settings field
        env = {name: value for name, value in services[service]["environment"].items() if name != "SANAD_LOG_FORMAT"}
        assert set(env) == {name for name in env if name.startswith(prefix)}, f"{service}: foreign variable"
        unknown = {name for name in env if name.removeprefix(prefix) not in fields}
        assert not unknown, f"{service}: not settings fields: {unknown}"
    assert 'FORMAT_VARIABLE = "SANAD_LOG_FORMAT"' in (REPO / "bot" / "json_logs.py").read_text(encoding="utf-8")
    for name, service in services.items():  # SANAD_GATEWAY_* is read by the gateway only
        if name != "gateway":
            assert not any(var.startswith("SANAD_GATEWAY_") for var in service.get("environment") or {})


def test_action_server_and_rasa_variables_are_read_by_their_code(services):
    # The action server runs actions/ and the Rasa runtime they import from bot/ (the registry
    # and knowledge base read SANAD_FUND there), never bot/tooling/.
    runtime = [p for p in (REPO / "bot").rglob("*.py") if "tooling" not in p.parts]
    actions_code = "\n".join(p.read_text(encoding="utf-8") for p in [*(REPO / "actions").rglob("*.py"), *runtime])
    for name in services["actions"]["environment"]:
        assert f'"{name}"' in actions_code, f"neither actions/ nor the bot runtime reads {name}"
    scaled = uncommented(SCALED)
    bot_code = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "bot").rglob("*.py"))
    rasa_env = services["rasa"]["environment"]
    for name in rasa_env:
        assert f"${{{name}}}" in scaled or f'"{name}"' in bot_code or f"$${name}" in str(
            services["rasa"]["command"]), f"nothing in the rasa service reads {name}"
    needed = {match[0] for match in VAR.findall(scaled)}
    assert needed <= set(rasa_env), f"bot/endpoints.scaled.yml needs {needed - set(rasa_env)}"


def test_databases_line_up(services):
    postgres = services["postgres"]["environment"]
    rasa = services["rasa"]["environment"]
    assert (rasa["SANAD_POSTGRES_DB"], rasa["SANAD_POSTGRES_USER"]) == (postgres["POSTGRES_DB"],
                                                                       postgres["POSTGRES_USER"])
    url = urlsplit(services["backend"]["environment"]["SANAD_BACKEND_DATABASE_URL"])
    assert url.scheme == "postgresql+psycopg" and url.hostname == "postgres"
    assert url.username == postgres["POSTGRES_USER"]
    init = (REPO / "deploy" / "postgres" / "create-databases.sql").read_text(encoding="utf-8")
    assert f"CREATE DATABASE {url.path.lstrip('/')};" in init
    console = urlsplit(services["gateway"]["environment"]["SANAD_GATEWAY_AGENT_DATABASE_URL"])
    assert console.scheme == "postgresql+psycopg" and console.hostname == "postgres"
    assert console.username == postgres["POSTGRES_USER"] and console.path != url.path
    assert f"CREATE DATABASE {console.path.lstrip('/')};" in init
    assert services["gateway"]["depends_on"]["postgres"] == {"condition": "service_healthy"}


def test_start_order_waits_for_health(services):
    for name in SERVICES:
        assert "test" in services[name].get("healthcheck", {}), f"{name} has no health check"
    for name, service in services.items():
        for dependency, how in (service.get("depends_on") or {}).items():
            assert dependency in services
            assert how == {"condition": "service_healthy"}, f"{name} -> {dependency}"


def test_sanad_services_share_one_image_built_once(services):
    images = {services[name]["image"] for name in SANAD_SERVICES}
    assert images == {"${SANAD_IMAGE:-sanad:latest}"}
    assert [name for name in SANAD_SERVICES if "build" in services[name]] == ["backend"]
    assert services["backend"]["build"] == "."


def test_rasa_command_matches_the_embedded_one(services):
    command = " ".join(services["rasa"]["command"])
    assert "auth-token" not in command  # the token is no argument anyone can read (bot/rasa_entry.py)
    assert services["rasa"]["environment"]["SANAD_RASA_AUTH_TOKEN"].startswith("${SANAD_RASA_TOKEN:?")
    assert command.startswith(".venvs/rasa/bin/python -m bot.rasa_entry run ")
    for option in ("--enable-api",
                   "--endpoints bot/endpoints.scaled.yml",
                   "--credentials bot/credentials.yml", "--model models/sanad.tar.gz", "--port 5005"):
        assert option in command
    from bot import paths  # the same credentials file as `sanad run` (bot/tooling/services.py)

    assert paths.CREDENTIALS == REPO / "bot" / "credentials.yml"


def test_files_the_deployment_names_exist(services):
    text = COMPOSE.read_text(encoding="utf-8") + (REPO / "Dockerfile").read_text(encoding="utf-8")
    path = r"(?:\./|/app/|(?<![\w./-]))((?:bot|deploy|scripts|backend|gateway|actions)/[\w./-]*\w)"
    named = set(re.findall(path, text))
    assert {"bot/endpoints.scaled.yml", "deploy/nginx/rasa-lb.conf", "deploy/healthcheck.py",
            "deploy/postgres/create-databases.sql", "bot/credentials.yml", "scripts/setup-envs"} <= named
    assert [path for path in sorted(named) if not (REPO / path).is_file()] == []
    for service in services.values():
        for volume in service.get("volumes", []):
            if volume.startswith("./"):
                assert (REPO / volume.split(":")[0]).is_file(), volume


def test_dockerfile_builds_everything_into_the_image():
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim-bookworm AS build$", dockerfile, re.M)
    steps = [dockerfile.index(step) for step in
             ("COPY --chown=sanad:sanad . .", "RUN scripts/setup-envs", "sanad model build", "sanad train")]
    assert steps == sorted(steps)
    users = re.findall(r"^USER (\S+)$", dockerfile, re.M)
    assert users and users[-1] != "root"
    installs = " ".join(re.findall(r"apt-get install[^\n]*", dockerfile))
    assert installs and not re.search(r"chromium|fonts-", installs)  # the browser tests' packages
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()}
    for entry in (".venvs", "build", "models", "var", ".rasa", ".git", "**/__pycache__", ".env"):
        assert entry in ignored, f".dockerignore misses {entry}"


def test_deploy_tests_run_in_the_suites():
    assert "tests/deploy" in (REPO / "scripts" / "test").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    for name in ("SANAD_REQUIRE_POSTGRES", "SANAD_REQUIRE_REDIS"):
        assert re.search(rf"^export .*\b{name}=1\b", ci, re.M), f".ci/run does not export {name}=1"


# --- bot/endpoints.scaled.yml, for real ---------------------------------------------------------

def unreachable(what: str, reason: str, require: str) -> None:
    if os.environ.get(require) == "1":
        pytest.fail(f"{what} not reachable: {reason} ({require}=1)", pytrace=False)
    pytest.skip(f"{what} not reachable: {reason}")


def import_or_fail(module: str, package: str, needed_for: str):
    try:
        return __import__(module)
    except ImportError:
        pytest.fail(f"the package {package} is missing from the Rasa environment (.venvs/rasa): Rasa's "
                    f"{needed_for} needs it (requirements/rasa.lock via rasa-own.in; run scripts/setup-envs)",
                    pytrace=False)


@pytest.fixture
def scaled_env(monkeypatch):
    """The variables bot/endpoints.scaled.yml needs; each real test points its own at a server."""
    for name, value in {"SANAD_ACTION_URL": "http://actions:5055/webhook", "SANAD_ACTIONS_TOKEN": "unused",
                        "SANAD_POSTGRES_HOST": "unused",
                        "SANAD_POSTGRES_PORT": "5432", "SANAD_POSTGRES_DB": "unused",
                        "SANAD_POSTGRES_USER": "unused", "SANAD_POSTGRES_PASSWORD": "",
                        "SANAD_REDIS_HOST": "unused", "SANAD_REDIS_PORT": "6379",
                        "SANAD_REDIS_PASSWORD": ""}.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


@pytest.fixture
def postgres_database(scaled_env):
    """A throwaway database on the test PostgreSQL server, named in the endpoint variables."""
    psycopg2 = import_or_fail("psycopg2", "psycopg2-binary", "SQL tracker store on PostgreSQL")
    url = urlsplit(POSTGRES_URL)
    server = dict(host=url.hostname or "127.0.0.1", port=url.port or 5432,
                  user=unquote(url.username or "postgres"), password=unquote(url.password or ""))
    try:
        admin = psycopg2.connect(dbname=url.path.lstrip("/") or "postgres", connect_timeout=3, **server)
    except psycopg2.OperationalError as error:
        unreachable(f"PostgreSQL at {server['host']}:{server['port']}", str(error).strip().splitlines()[0],
                    "SANAD_REQUIRE_POSTGRES")
    admin.autocommit = True
    name = f"sanad_deploy_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    for var, value in (("HOST", server["host"]), ("PORT", str(server["port"])), ("DB", name),
                       ("USER", server["user"]), ("PASSWORD", server["password"])):
        scaled_env.setenv(f"SANAD_POSTGRES_{var}", value)
    try:
        yield dict(server, dbname=name)
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def redis_server(scaled_env):
    redis = import_or_fail("redis", "redis", "Redis lock store")
    url = urlsplit(REDIS_URL)
    host, port, password = url.hostname or "127.0.0.1", url.port or 6379, unquote(url.password or "")
    try:
        redis.Redis(host=host, port=port, password=password or None, socket_timeout=3).ping()
    except redis.RedisError as error:
        unreachable(f"Redis at {host}:{port}", str(error), "SANAD_REQUIRE_REDIS")
    for var, value in (("HOST", host), ("PORT", str(port)), ("PASSWORD", password)):
        scaled_env.setenv(f"SANAD_REDIS_{var}", value)


async def test_scaled_tracker_store_keeps_redacted_conversations_in_postgresql(postgres_database):
    import psycopg2
    from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
    from rasa.core.utils import AvailableEndpoints
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot import paths
    from bot.redaction import RedactingTrackerStore

    endpoints = AvailableEndpoints.read_endpoints(str(SCALED))
    assert endpoints.action.url == "http://actions:5055/webhook"
    assert endpoints.action.headers == {"Authorization": "Bearer unused"}  # the action server's credential
    domain = Domain.load(paths.DOMAIN)
    replica_a, replica_b = (TrackerStore.create(endpoints.tracker_store, domain) for _ in range(2))
    try:
        # Rasa falls back to an in-memory store, with a mere warning, when the class cannot be loaded
        assert isinstance(replica_a, RedactingTrackerStore) and isinstance(replica_a.inner, SQLTrackerStore)
        assert replica_a.inner.engine.dialect.name == "postgresql"
        assert replica_a.inner.engine.url.database == postgres_database["dbname"]

        sender = f"deploy-{uuid.uuid4().hex[:8]}"
        events = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
                  UserUttered("ou payer la cnss ?", {"name": "faq"}), BotUttered("Au guichet."),
                  UserUttered("mon numero est 100 204 821", {"name": "inform"})]
        await replica_a.save(DialogueStateTracker.from_events(sender, events, domain.slots))

        restored = await replica_b.retrieve(sender)  # another replica reads what the first stored
        said = [e.text for e in restored.events if isinstance(e, UserUttered)]
        assert said[0] == "ou payer la cnss ?"
        assert said[1].startswith("mon numero est") and "100 204 821" not in said[1]
        assert sender in list(await replica_b.keys())

        connection = psycopg2.connect(**postgres_database)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT data FROM events WHERE sender_id = %s", (sender,))
                rows = [row[0] for row in cursor.fetchall()]
        finally:
            connection.close()
        assert len(rows) == len(events) and "ou payer la cnss" in "".join(rows)
        assert not any("100 204 821" in row for row in rows)
    finally:
        for store in (replica_a, replica_b):
            engine = getattr(getattr(store, "inner", None), "engine", None)
            if engine is not None:
                engine.dispose()


async def test_scaled_lock_store_serialises_a_conversation_across_replicas(redis_server):
    from rasa.core.lock_store import InMemoryLockStore, LockStore, RedisLockStore
    from rasa.core.utils import AvailableEndpoints

    endpoints = AvailableEndpoints.read_endpoints(str(SCALED))
    replica_a, replica_b = LockStore.create(endpoints.lock_store), LockStore.create(endpoints.lock_store)
    assert isinstance(replica_a, RedisLockStore) and replica_a.key_prefix == "sanad:lock:"

    async def two_messages(first: LockStore, second: LockStore) -> list[str]:
        """Replica a handles a message for 0.4 s; replica b gets one for the same conversation."""
        conversation, order = f"deploy-{uuid.uuid4().hex[:8]}", []

        async def handle(store: LockStore, name: str, seconds: float) -> None:
            async with store.lock(conversation, wait_time_in_seconds=0.05):
                order.append(f"{name} starts")
                await asyncio.sleep(seconds)
                order.append(f"{name} ends")

        task_a = asyncio.create_task(handle(first, "a", 0.4))
        await asyncio.sleep(0.1)
        if isinstance(first, RedisLockStore):
            assert first.red.exists(first.key_prefix + conversation)  # the lock is in Redis
        await asyncio.wait_for(asyncio.gather(task_a, handle(second, "b", 0)), timeout=10)
        if isinstance(first, RedisLockStore):
            assert not first.red.exists(first.key_prefix + conversation)  # and released
        return order

    assert await two_messages(replica_a, replica_b) == ["a starts", "a ends", "b starts", "b ends"]
    # What the Redis store prevents: with in-process locks, the replicas overlap on one conversation.
    assert await two_messages(InMemoryLockStore(), InMemoryLockStore()) == [
        "a starts", "b starts", "b ends", "a ends"]
