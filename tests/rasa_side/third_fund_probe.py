"""What the Rasa side (knowledge base, NLU helpers, actions, `sanad` tooling) makes of the
fictitious third fund of tests/third_fund.py, printed as JSON. Run in a process of its own, started
by tests/rasa_side/test_third_fund.py with or without SANAD_REGISTRY naming the registry copy:

    python -m tests.rasa_side.third_fund_probe KNOWLEDGE_FOLDER"""
from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

from tests.third_fund import DARIJA, FUND, TOPIC


def knowledge_report(knowledge: Path) -> dict:
    from bot.knowledge import FUNDS, load_knowledge_base

    kb = load_knowledge_base(knowledge)
    report = {"funds": list(FUNDS), "load_problems": [str(p) for p in kb.problems]}
    if FUND in kb.funds:
        report.update(
            check_problems=sorted(str(p) for p in kb.check(dt.date.today()) if p.path.startswith(f"{FUND}/")),
            answer={lang: kb.entry(FUND, TOPIC).answer_in(lang) for lang in ("fr", "ar", DARIJA, "ary", "en")},
            name={lang: kb.fund(FUND).in_lang("name", lang) for lang in (DARIJA, "en")})
    return report


def nlu_report() -> dict:
    from bot.knowledge import known_fund
    from bot.nlu.decision import names_only_the_fund
    from bot.nlu.language import Language, detect, reply_language
    from bot.nlu.userdata import affiliate_number

    def detected(text: str, fund: str) -> list:
        language = detect(text, fund)
        return [language.lang, language.script]

    return {
        "known_fund": known_fund(FUND),
        "detect": {"shared_markers": detected("واش كاين شي حل للديون؟", FUND),
                   "moroccan_markers": detected("بغيت نعرف شنو خاصني نوجد", FUND),
                   "msa": detected("كيف أدفع اشتراكاتي؟", FUND),
                   "arabizi": detected("wach kayn chi 7al l dyoun", FUND)},
        "reply_language": {"darija_written": reply_language(Language(DARIJA, "arab"), {"fr", "ar", DARIJA}),
                           "darija_missing": reply_language(Language(DARIJA, "arab"), {"fr", "ar"}),
                           "arabizi": reply_language(Language(DARIJA, "latn"), {"fr", "ar", DARIJA})},
        "affiliate_number": {FUND: affiliate_number("mon numéro est le 12 345 678", FUND),
                             "cnss_ma": affiliate_number("mon numéro est le 12 345 678", "cnss_ma")},
        "names_only_the_fund": names_only_the_fund("testfund ?"),
    }


def actions_report() -> dict:
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from actions.balance.form import ActionAskAffiliateNumber
    from actions.balance.replies import date_text, money

    latest = {"text": "...", "intent": {"name": "account_balance", "confidence": 0.9}, "entities": [],
              "metadata": {"fund": FUND}, "sanad": {"fund": FUND, "lang": "fr", "script": "latn"}}
    dispatcher = CollectingDispatcher()
    ActionAskAffiliateNumber().run(dispatcher, Tracker("probe", {}, latest, [], False, None, {}, "action_listen"), {})
    return {
        "ask_number": dispatcher.messages[0]["text"],
        "money": {lang: money("1234.50", "TND", lang) for lang in ("fr", DARIJA, "en")},
        "date": {lang: date_text("2026-08-01", lang, FUND) for lang in ("fr", DARIJA)},
    }


def tooling_report() -> dict:
    from bot.tooling.calibration import LANG_FUND
    from bot.tooling.cli import FUNDS

    return {"cli_funds": list(FUNDS), "calibration_fund": LANG_FUND.get(DARIJA)}


def main(knowledge: Path) -> None:
    report = {"knowledge": knowledge_report(knowledge)}
    if FUND in report["knowledge"]["funds"]:
        report.update(nlu=nlu_report(), actions=actions_report(), tooling=tooling_report())
    print(json.dumps(report, ensure_ascii=False))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
