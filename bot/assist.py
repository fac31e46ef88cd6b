"""Agent assist (issue 16): a fund's knowledge-base entries ranked for what a call-centre agent
typed (a note, a third-person summary, or the caller's words), best first.

    rank(agent, text, fund, langs)   the one ranking: `sanad assist` and the HTTP route call it
    AssistInput                      Rasa input channel: POST /webhooks/assist/rank (bot/credentials.yml)

The ranking comes from the citizen assistant's own pipeline in the running Rasa process: the
loaded agent's NLU parses the text with the fund in the metadata, and each topic's score is the
combined score of bot/nlu/decision.py (the DIET probability mixed with the knowledge base's own
retrieval score, both already in the parse result). Nothing else is loaded: no second embedding
model, no conversation (the parse reads and writes no tracker store). The agent wants a ranked
list rather than an answer, so there is no answer/clarify decision: the best entries are shown
unless nothing matches well enough (`nothing_matches`), with thresholds fitted on data."""
from __future__ import annotations

import datetime as dt
import hmac
import logging
import os
import sys
from functools import lru_cache
from typing import Any, Dict, List, Optional, Sequence

from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.knowledge import FUNDS, LANGUAGES, Entry, KnowledgeBase, load_knowledge_base
from bot.nlu import decision
from bot.nlu.language import Language, reply_language
from bot.registry import registry

logger = logging.getLogger(__name__)

MAX_ENTRIES = 3
MAX_TEXT_CHARS = 1000  # a pasted paragraph at most; the parse costs grow with it
TOKEN_ENV = "SANAD_RASA_TOKEN"  # the deployment's Rasa API token (the gateway's SANAD_GATEWAY_RASA_TOKEN)


class BadRequest(ValueError):
    """A request the route answers with 400, saying why."""


@lru_cache(maxsize=1)
def knowledge_base() -> KnowledgeBase:
    return load_knowledge_base()


@lru_cache(maxsize=1)
def thresholds() -> decision.Thresholds:
    """The calibrated thresholds the pipeline's AnswerDecider reads (bot/calibration.yml)."""
    return decision.load_thresholds()


def nothing_matches(intent_ranking: List[Dict[str, Any]], kb_ranking: List[Dict[str, Any]],
                    scores: List[Dict[str, Any]], t: decision.Thresholds) -> bool:
    """No entry is worth showing: the classifier declines the message as out of scope (and no
    entry is close enough to overrule it, as in the citizen's decision), or even the best topic
    scores below what a clarification would offer. Both thresholds come from `sanad calibrate`;
    tests/data/assist-tune.yml checks them on agent-style messages (see `sanad assist --cases`)."""
    top = intent_ranking[0] if intent_ranking else {"name": decision.OUT_OF_SCOPE, "confidence": 0.0}
    declined = (top["name"] == decision.OUT_OF_SCOPE and float(top["confidence"]) >= t.intent_min
                and decision.best_kb_score(kb_ranking) < t.oos_kb_veto)
    return declined or not scores or scores[0]["score"] < t.clarify


def ranked_topics(parse: Dict[str, Any], t: Optional[decision.Thresholds] = None) -> List[Dict[str, Any]]:
    """The best topics for a parse result, best first, at most MAX_ENTRIES ([] when nothing
    matches). Equal combined scores (topics neither the classifier nor the knowledge base
    supports) are ordered by the entries' own retrieval cosine."""
    block = parse.get("sanad") or {}
    t = (t or thresholds()).for_lang(block.get("lang", "fr"))
    intent_ranking = parse.get("intent_ranking") or []
    kb_ranking = block.get("kb_ranking") or []
    scores = decision.combined_topic_scores(intent_ranking, kb_ranking, t)
    scores.sort(key=lambda s: (s["score"], decision.kb_cosine(kb_ranking, s["topic"])), reverse=True)
    if nothing_matches(intent_ranking, kb_ranking, scores, t):
        return []
    return scores[:MAX_ENTRIES]


def answer_language(lang: str, available: Sequence[str]) -> str:
    """An entry's answer language for a requested one: the registry's fallback chain (Darija -> MSA
    -> French, anything else -> French) to the first language the entry is written in."""
    return registry().fallback(lang, available)


def entry_answer(entry: Entry, lang: str, today: dt.date) -> str:
    if entry.is_current(today):
        return entry.answer_in(lang)
    # A time-limited measure past its end is never shown as current (as actions/faq.py does).
    from actions.messages import say

    channels = knowledge_base().fund(entry.fund).in_lang("official_channels", lang)
    return say("measure_ended", lang, date=entry.valid_until.isoformat(), channels=channels)


def entry_view(entry: Entry, score: float, detected: Language, langs: Sequence[str],
               today: dt.date) -> Dict[str, Any]:
    """One suggestion as the console shows it: title (in the first requested language, the agent's
    interface, else the caller's), score, the answer in the caller's language (the citizen
    assistant's reply language) and in each requested language, sources, review date."""
    reply_lang = reply_language(detected, frozenset(entry.answer))
    answer_langs = [reply_lang] + [answer_language(lang, list(entry.answer)) for lang in langs]
    answer_langs = list(dict.fromkeys(answer_langs))
    titles = knowledge_base().topics
    return {
        "topic": entry.topic,
        "score": score,
        "title": titles.title(entry.topic, langs[0] if langs else reply_lang),
        "reply_lang": reply_lang,
        "answer": {lang: entry_answer(entry, lang, today) for lang in answer_langs},
        "sources": [{"title": s.title, "publisher": s.publisher, "date": s.date, "url": s.url} for s in entry.sources],
        "reviewed": entry.reviewed.isoformat(),
    }


def suggestions(parse: Dict[str, Any], fund: str, langs: Sequence[str] = (),
                today: Optional[dt.date] = None) -> Dict[str, Any]:
    """The route's and the command's answer for one parse result."""
    block = parse.get("sanad") or {}
    detected = Language(block.get("lang", "fr"), block.get("script", "latn"))
    kb = knowledge_base()
    entries = []
    for scored in ranked_topics(parse):
        entry = kb.entry(fund, scored["topic"])
        if entry is not None:
            entries.append(entry_view(entry, scored["score"], detected, langs, today or dt.date.today()))
    return {"lang": detected.lang, "script": detected.script, "entries": entries}


def check_request(body: Any) -> tuple[str, str, List[str]]:
    """(text, fund, langs) from a request body, or BadRequest saying what is wrong."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object: {\"text\": ..., \"fund\": ..., \"langs\": [...]}")
    text, fund, langs = body.get("text"), body.get("fund"), body.get("langs", [])
    if not isinstance(text, str) or not text.strip():
        raise BadRequest("`text` must be a non-empty string")
    if len(text) > MAX_TEXT_CHARS:
        raise BadRequest(f"`text` is longer than {MAX_TEXT_CHARS} characters")
    if fund not in FUNDS or fund not in knowledge_base().funds:
        raise BadRequest(f"unknown fund {fund!r} (expected one of {', '.join(FUNDS)})")
    if not isinstance(langs, list) or not all(isinstance(lang, str) and lang in LANGUAGES for lang in langs):
        raise BadRequest(f"`langs` must be a list of languages among {', '.join(LANGUAGES)}")
    return text.strip(), fund, list(dict.fromkeys(langs))


async def parse(agent, text: str, fund: str) -> Dict[str, Any]:
    """The loaded pipeline's parse, as the citizen assistant's: the fund travels in the metadata.
    Rasa's processor parses against a throwaway in-memory tracker: no tracker store is read or
    written, no lock taken, nothing of the text kept."""
    from rasa.core.channels.channel import UserMessage

    return await agent.processor.parse_message(UserMessage(text, metadata={"fund": fund}))


async def rank(agent, text: str, fund: str, langs: Sequence[str] = ()) -> Dict[str, Any]:
    """The ranking the console shows and `sanad assist` prints, for a loaded Rasa agent."""
    return suggestions(await parse(agent, text, fund), fund, langs)


def rasa_api_token(argv: Optional[Sequence[str]] = None) -> str:
    """The token Rasa's own HTTP API checks, which the gateway holds: the process's `--auth-token`
    (bot/rasa_entry.py adds it in-process, out of the process list; docker-compose.yml passes it on
    the command line), else SANAD_RASA_TOKEN, else "" (nothing is then accepted)."""
    args = list(sys.argv[1:] if argv is None else argv)
    for i, arg in enumerate(args):
        if arg.startswith("--auth-token="):
            return arg.split("=", 1)[1]
        if arg in ("--auth-token", "-t") and i + 1 < len(args):
            return args[i + 1]
    return os.environ.get(TOKEN_ENV, "")


def bearer_token_is_valid(header: Optional[str], expected: str) -> bool:
    """`Authorization: Bearer <token>` with the Rasa API token, compared in constant time. Without
    a configured token nothing is accepted: the route reads callers' questions, never open."""
    scheme, _, given = (header or "").partition(" ")
    return bool(expected) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode())


class AssistInput(InputChannel):
    """POST /webhooks/assist/rank {"text", "fund", "langs"} -> {"lang", "script", "entries"}.
    The gateway's agent console calls it with the Rasa API token; citizens never reach it."""

    @classmethod
    def name(cls) -> str:
        return "assist"

    def blueprint(self, on_new_message) -> Blueprint:
        assist = Blueprint("assist_webhook", __name__)
        token = rasa_api_token()
        if not token:
            logger.warning("assist channel: Rasa runs without --auth-token and %s is not set; "
                           "every request will be refused", TOKEN_ENV)

        @assist.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @assist.route("/rank", methods=["POST"])
        async def rank_route(request: Request) -> HTTPResponse:
            if not bearer_token_is_valid(request.headers.get("Authorization"), token):
                return response.json({"error": "missing or wrong bearer token"}, status=401,
                                     headers={"WWW-Authenticate": "Bearer"})
            try:
                text, fund, langs = check_request(_json_body(request))
            except BadRequest as problem:
                return response.json({"error": str(problem)}, status=400)
            agent = request.app.ctx.agent
            if agent is None or not agent.is_ready():
                return response.json({"error": "no model loaded yet"}, status=503)
            return response.json(await rank(agent, text, fund, langs))

        return assist


def _json_body(request: Request) -> Any:
    try:
        return request.json
    except Exception:  # Sanic raises its own InvalidUsage on malformed JSON
        raise BadRequest("the body is not valid JSON")
