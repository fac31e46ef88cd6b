"""The layout of issue 15: the Rasa runtime (what the Rasa server and the action server import)
never imports the tooling behind `sanad` (bot/tooling/), which imports only downward."""
from __future__ import annotations

import ast
import subprocess
import sys

from bot import paths

RUNTIME_ROOTS = ("bot", "actions")


def runtime_modules() -> list:
    found = []
    for root in RUNTIME_ROOTS:
        for path in sorted((paths.REPO / root).rglob("*.py")):
            if "tooling" not in path.relative_to(paths.REPO).parts:
                found.append(path)
    return found


def imported_names(path) -> set:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return names


def test_no_runtime_module_imports_the_tooling():
    offenders = {str(p.relative_to(paths.REPO)): sorted(n for n in imported_names(p) if n.startswith("bot.tooling"))
                 for p in runtime_modules()}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_loading_what_rasa_loads_pulls_in_no_tooling():
    code = ("import sys, bot.nlu.components, bot.redaction, bot.channels, bot.assist, bot.log_redaction, "
            "bot.rasa_entry, actions.server, actions.faq, actions.balance.form; "
            "print(sorted(m for m in sys.modules if m.startswith('bot.tooling')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=paths.REPO, capture_output=True, text=True, check=True,
                         env={"RASA_TELEMETRY_ENABLED": "false", "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip().splitlines()[-1] == "[]"
