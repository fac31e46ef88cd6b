"""The `sanad` command as scripts use it: stdout is the result, parseable JSON with --json."""
import json
import subprocess
import sys

import pytest

from bot import paths

pytestmark = pytest.mark.model


def test_ask_json(trained_model):
    result = subprocess.run([sys.executable, "-m", "bot.tooling.cli", "ask", "واش كاين شي عفو على الديون ديال الضمان؟",
                             "--fund", "cnss_ma", "--json"], capture_output=True, text=True, cwd=paths.REPO, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    answer = json.loads(result.stdout)
    assert answer["decision"] == "debt_relief" and answer["topic"] == "debt_relief"
    assert answer["language"] == {"lang": "ary", "script": "arab"} and answer["reply_language"] in ("ary", "ar")
    assert answer["sources"] and answer["confidence"] > 0
