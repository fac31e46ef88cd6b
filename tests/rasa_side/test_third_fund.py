"""Adding a fund is registry.yml, the knowledge base and (for a new Darija) training data, and
nothing else: a fictitious Tunisian fund with its own Darija (tests/third_fund.py), in a copy of
the registry that a process is pointed at with SANAD_REGISTRY, is taken by the knowledge base,
the NLU's helpers, the actions and the `sanad` tooling; without that registry it is refused.
The gateway and the affiliate API: tests/gateway/test_third_fund.py."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import third_fund

REPO = Path(__file__).resolve().parents[2]


def probe(knowledge: Path, registry: Path | None) -> dict:
    """tests/rasa_side/third_fund_probe.py in a process of its own, as a deployment would start one."""
    env = {key: value for key, value in os.environ.items() if key not in ("SANAD_REGISTRY", "SANAD_FUND")}
    if registry is not None:
        env["SANAD_REGISTRY"] = str(registry)
    done = subprocess.run([sys.executable, "-m", "tests.rasa_side.third_fund_probe", str(knowledge)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def added(tmp_path_factory) -> tuple[Path, Path]:
    return third_fund.make(tmp_path_factory.mktemp("third-fund"))


@pytest.fixture(scope="module")
def report(added) -> dict:
    registry, knowledge = added
    return probe(knowledge, registry)


def test_without_its_registry_entry_the_fund_is_refused(added):
    knowledge = probe(added[1], None)["knowledge"]
    assert third_fund.FUND not in knowledge["funds"]
    assert any(problem.startswith("test_tn/_fund.yml") and "unknown fund 'test_tn'" in problem
               for problem in knowledge["load_problems"])
    assert any("unknown languages ['aeb']" in problem for problem in knowledge["load_problems"])


def test_the_knowledge_base_loads_it_and_says_what_it_still_lacks(report):
    knowledge = report["knowledge"]
    assert knowledge["funds"] == ["cnss_ma", "casnos_dz", "test_tn"] and knowledge["load_problems"] == []
    assert len(knowledge["check_problems"]) == 12  # 13 topics, one written
    assert all(problem.endswith("missing entry") for problem in knowledge["check_problems"])
    answer = knowledge["answer"]
    assert answer["aeb"].startswith("خلص")  # its Darija, as written
    assert answer["ary"] == answer["ar"] and answer["en"] == answer["fr"]  # the registry's fallbacks
    assert knowledge["name"] == {"aeb": "صندوق الاختبار (تونس)", "en": "Caisse de démonstration des tests (Tunisie)"}


def test_the_nlu_reads_its_darija_and_its_numbers(report):
    nlu = report["nlu"]
    assert nlu["known_fund"] == "test_tn"
    assert nlu["detect"] == {"shared_markers": ["aeb", "arab"],  # the fund's own Darija
                             "moroccan_markers": ["ary", "arab"],  # a clear lead of another's still wins
                             "msa": ["ar", "arab"], "arabizi": ["aeb", "latn"]}
    assert nlu["reply_language"] == {"darija_written": "aeb", "darija_missing": "ar", "arabizi": "fr"}
    assert nlu["affiliate_number"] == {"test_tn": "12345678", "cnss_ma": None}  # 8 digits, not CNSS's 9
    assert nlu["names_only_the_fund"] is True  # its alias, from the registry


def test_the_actions_use_its_number_format_currency_and_country(report):
    actions = report["actions"]
    assert "(8 chiffres, par exemple 12 345 678)" in actions["ask_number"]
    assert actions["money"] == {"fr": "1\u202f234,50 DT", "aeb": "1.234,50 د.ت", "en": "1,234.50 TND"}
    assert actions["date"] == {"fr": "1 août 2026", "aeb": "1 أوت 2026"}  # Babel's ar_TN month names


def test_the_sanad_command_offers_it(report):
    assert "test_tn" in report["tooling"]["cli_funds"]
    assert report["tooling"]["calibration_fund"] == "test_tn"  # its Darija's examples are parsed for it
