"""`sanad eval FILE --json`: the evaluation contract of ../shared/eval/README.md.

Sanad's decision on each case comes from the live path: the trained model loaded in a Rasa
Agent, the dialogue rules, and the real action server over HTTP; the label is read from what
the actions sent back (their `custom.sanad` part). The stock Rasa pipeline, trained on the same
data, is measured on the same cases; having no clarification, its label is its intent, with
`nlu_fallback` counted as declining (out_of_scope).

A case may be a conversation (`turns` instead of `text`): its turns are played in one
conversation of its own, and its label is the decision on the last turn. Conversations are
reported under `followups`, beside the single messages (the stock pipeline, which keeps no
conversation, is not measured on them)."""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

from bot.knowledge import TOPICS

ABSTAIN = {"out_of_scope", "human_handoff"}


@dataclass
class Case:
    text: str
    fund: str
    lang: str
    script: str
    expect: str


@dataclass
class Conversation:
    turns: List[str]  # texts, or button payloads ("/choose_topic{...}")
    fund: str
    lang: str
    script: str
    expect: str  # the decision on the last turn


@dataclass
class Result:
    text: str
    fund: str
    lang: str
    script: str
    expect: str
    got: str
    offered: List[str] = field(default_factory=list)
    confidence: Optional[float] = None
    correct: bool = False
    latency_ms: float = 0.0
    reply_lang: Optional[str] = None
    has_source: Optional[bool] = None
    turns: Optional[List[str]] = None  # a conversation's turns (its last one is `text`)


def load_all_cases(path: Path) -> tuple[List[Case], List[Conversation]]:
    """The file's single messages and its conversations (cases with `turns`)."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    keys = ("fund", "lang", "script", "expect")
    singles = [Case(text=c["text"], **{k: c[k] for k in keys}) for c in data["cases"] if "turns" not in c]
    conversations = [Conversation(turns=list(c["turns"]), **{k: c[k] for k in keys})
                     for c in data["cases"] if "turns" in c]
    return singles, conversations


def load_cases(path: Path) -> List[Case]:
    return load_all_cases(path)[0]


def label_from_replies(replies: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The decision the actions took, from their machine-readable `custom.sanad` parts."""
    for reply in replies:
        block = (reply.get("custom") or {}).get("sanad")
        if not block:
            continue
        kind = block["decision"]
        label = block["topic"] if kind == "answer" else kind
        return {"got": label, "offered": block.get("offered", []), "confidence": block.get("confidence"),
                "reply_lang": block.get("lang"),
                "has_source": bool(block.get("sources")) if kind == "answer" else None}
    return {"got": "none", "offered": []}


class LiveAssistant:
    """The trained model in-process, talking to a real action server over HTTP."""

    def __init__(self, agent):
        self.agent = agent

    @classmethod
    async def load(cls, model: Path, action_url: str) -> "LiveAssistant":
        """In-memory conversations (evaluation cases are independent), real action server."""
        from rasa.core.agent import load_agent
        from rasa.core.utils import AvailableEndpoints
        from rasa.utils.endpoints import EndpointConfig

        from bot.tooling import services

        # The action server runs actions for Rasa's credential only (actions/server.py): the one it
        # was started with from this process. Without it every action was refused (401).
        token = services.shared_secret("SANAD_ACTIONS_TOKEN")
        endpoints = AvailableEndpoints(action=EndpointConfig(url=f"{action_url}/webhook",
                                                             headers={"Authorization": f"Bearer {token}"}))
        return cls(await load_agent(model_path=str(model), endpoints=endpoints))

    async def ask(self, text: str, fund: str, sender_id: Optional[str] = None) -> List[Dict[str, Any]]:
        from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

        message = UserMessage(text, CollectingOutputChannel(), sender_id or f"eval-{uuid.uuid4().hex}",
                              metadata={"fund": fund})
        return await self.agent.handle_message(message) or []

    async def parse(self, text: str, fund: str) -> Dict[str, Any]:
        from rasa.core.channels.channel import UserMessage

        return await self.agent.processor.parse_message(UserMessage(text, metadata={"fund": fund}))


async def evaluate_live(assistant: LiveAssistant, cases: List[Case]) -> List[Result]:
    results = []
    for case in cases:
        started = time.perf_counter()
        replies = await assistant.ask(case.text, case.fund)
        elapsed = (time.perf_counter() - started) * 1000
        decision = label_from_replies(replies)
        results.append(Result(**asdict(case), **decision, latency_ms=round(elapsed, 1),
                              correct=decision["got"] == case.expect))
    return results


async def evaluate_conversations(assistant: LiveAssistant, conversations: List[Conversation]) -> List[Result]:
    """Each conversation in a conversation of its own; the last turn's decision is its label."""
    results = []
    for case in conversations:
        sender = f"eval-{uuid.uuid4().hex}"
        for turn in case.turns[:-1]:
            await assistant.ask(turn, case.fund, sender)
        started = time.perf_counter()
        replies = await assistant.ask(case.turns[-1], case.fund, sender)
        elapsed = (time.perf_counter() - started) * 1000
        decision = label_from_replies(replies)
        results.append(Result(text=case.turns[-1], turns=case.turns,
                              **{k: getattr(case, k) for k in ("fund", "lang", "script", "expect")},
                              **decision, latency_ms=round(elapsed, 1),
                              correct=decision["got"] == case.expect))
    return results


async def evaluate_stock(model: Path, cases: List[Case]) -> List[Result]:
    from rasa.core.agent import load_agent

    agent = await load_agent(model_path=str(model))
    results = []
    for case in cases:
        started = time.perf_counter()
        parsed = await agent.parse_message(case.text)
        elapsed = (time.perf_counter() - started) * 1000
        intent = (parsed.get("intent") or {}).get("name") or "nlu_fallback"
        got = "out_of_scope" if intent == "nlu_fallback" else intent
        results.append(Result(**asdict(case), got=got, confidence=(parsed.get("intent") or {}).get("confidence"),
                              latency_ms=round(elapsed, 1), correct=got == case.expect))
    return results


def _share(part: int, whole: int) -> Optional[float]:
    return round(part / whole, 4) if whole else None


def _percentile(values: List[float], q: float) -> Optional[float]:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 1)


def figures(results: List[Result]) -> Dict[str, Any]:
    in_scope = [r for r in results if r.expect != "out_of_scope"]
    out_scope = [r for r in results if r.expect == "out_of_scope"]
    wrong = [r for r in in_scope if r.got not in (r.expect, "clarify", "out_of_scope")]
    answers = [r for r in results if r.got in TOPICS]
    return {
        "n": len(results),
        "accuracy": _share(sum(r.correct for r in results), len(results)),
        "out_of_scope_abstention": _share(sum(r.got in ABSTAIN for r in out_scope), len(out_scope)),
        "false_abstention": _share(sum(r.got == "out_of_scope" for r in in_scope), len(in_scope)),
        "wrong": _share(len(wrong), len(in_scope)),
        "recovered": _share(sum(r.got == "clarify" and r.expect in r.offered for r in results), len(results)),
        "clarified": _share(sum(r.got == "clarify" for r in results), len(results)),
        "out_of_scope_answered": _share(sum(r.got in TOPICS for r in out_scope), len(out_scope)),
        "answers_with_source": _share(sum(bool(r.has_source) for r in answers), len(answers)) if answers and answers[0].has_source is not None else None,
        "latency_ms": {"p50": _percentile([r.latency_ms for r in results], 0.5),
                       "p95": _percentile([r.latency_ms for r in results], 0.95)},
    }


def _grouped(results: List[Result], key: str) -> Dict[str, Dict[str, Any]]:
    groups: Dict[str, List[Result]] = {}
    for r in results:
        groups.setdefault(getattr(r, key), []).append(r)
    out = {}
    for name, members in sorted(groups.items()):
        f = figures(members)
        out[name] = {k: f[k] for k in ("n", "accuracy", "wrong", "false_abstention", "recovered")}
    return out


def report(results: List[Result], stock: Optional[List[Result]] = None,
           followups: Optional[List[Result]] = None) -> Dict[str, Any]:
    body = figures(results)
    body["by_lang"] = _grouped(results, "lang")
    body["by_script"] = _grouped(results, "script")
    body["results"] = [asdict(r) for r in results]
    if stock is not None:
        stock_body = figures(stock)
        stock_body["by_lang"] = _grouped(stock, "lang")
        stock_body["by_script"] = _grouped(stock, "script")
        stock_body["results"] = [{k: v for k, v in asdict(r).items() if k in ("text", "expect", "got", "correct")} for r in stock]
        body["stock"] = stock_body
    if followups:
        body["followups"] = {**figures(followups), "by_lang": _grouped(followups, "lang"),
                             "by_script": _grouped(followups, "script"),
                             "results": [asdict(r) for r in followups]}
    return body


async def run_evaluation(cases_file: Path, model: Path, action_url: str, stock_model: Optional[Path]) -> Dict[str, Any]:
    logging.getLogger("rasa").setLevel(logging.WARNING)
    cases, conversations = load_all_cases(cases_file)
    assistant = await LiveAssistant.load(model, action_url)
    results = await evaluate_live(assistant, cases)
    followups = await evaluate_conversations(assistant, conversations)
    stock = await evaluate_stock(stock_model, cases) if stock_model and cases else None
    return report(results, stock, followups)


def evaluate(cases_file: Path, model: Path, action_url: str, stock_model: Optional[Path] = None) -> Dict[str, Any]:
    return asyncio.run(run_evaluation(cases_file, model, action_url, stock_model))


def summary_lines(body: Dict[str, Any]) -> List[str]:
    """A human-readable digest of a report, for the terminal."""
    def line(name: str, f: Dict[str, Any]) -> str:
        return (f"{name:6} n={f['n']:3} accuracy={f['accuracy']} wrong={f['wrong']} "
                f"false_abstention={f['false_abstention']} oos_abstention={f['out_of_scope_abstention']} "
                f"recovered={f['recovered']} p50={f['latency_ms']['p50']}ms")
    lines = [line("sanad", body)] if body["n"] else []
    if "stock" in body:
        lines.append(line("stock", body["stock"]))
    for lang, f in body["by_lang"].items():
        lines.append(f"  {lang:4} n={f['n']:3} accuracy={f['accuracy']} wrong={f['wrong']}")
    if "followups" in body:
        lines.append(line("follow", body["followups"]))
        for lang, f in body["followups"]["by_lang"].items():
            lines.append(f"  {lang:4} n={f['n']:3} accuracy={f['accuracy']} wrong={f['wrong']}")
    return lines


