"""Scoring the agent console's ranking on a file of cases (`sanad assist --cases FILE --json`):
top-1 and top-3 per language, how often nothing was shown, and latency, through the same
`bot.assist.rank` as the console's HTTP route."""
from __future__ import annotations

import time
from typing import Any, Dict, List, Optional

from bot import assist
from bot.nlu.decision import OUT_OF_SCOPE
from bot.tooling.evaluation import _percentile


async def score_cases(agent, cases) -> Dict[str, Any]:
    """`sanad assist --cases FILE --json`: the share of cases whose topic comes first (top1) and
    within the first three (top3), overall and per language, through `rank`. A case expecting
    `out_of_scope` is right, first and within three, when the list is empty."""
    results, latencies = [], []
    for case in cases:
        started = time.perf_counter()
        body = await assist.rank(agent, case.text, case.fund)
        latencies.append((time.perf_counter() - started) * 1000)
        ranked = [e["topic"] for e in body["entries"]]
        results.append({"text": case.text, "fund": case.fund, "lang": case.lang, "script": case.script,
                         "expect": case.expect, "ranked": ranked, "scores": [e["score"] for e in body["entries"]],
                         "detected": body["lang"]})
    report = {**hit_rates(results), "by_lang": {}, "latency_ms": {"p50": _percentile(latencies, 0.5),
                                                                  "p95": _percentile(latencies, 0.95)}}
    for lang in sorted({r["lang"] for r in results}):
        report["by_lang"][lang] = hit_rates([r for r in results if r["lang"] == lang])
    report["results"] = results
    return report


def _hit(result: Dict[str, Any], within: int) -> bool:
    if result["expect"] == OUT_OF_SCOPE:
        return not result["ranked"]
    return result["expect"] in result["ranked"][:within]


def hit_rates(results: List[Dict[str, Any]]) -> Dict[str, Any]:
    """top1 and top3, and how often the console said "nothing matches": for cases that have an
    entry (a miss) and, when the file has any, for out-of-scope ones (right)."""
    n = len(results)
    in_scope = [r for r in results if r["expect"] != OUT_OF_SCOPE]
    out_of_scope = [r for r in results if r["expect"] == OUT_OF_SCOPE]
    rates = {"n": n, "top1": _rate([_hit(r, 1) for r in results]), "top3": _rate([_hit(r, assist.MAX_ENTRIES) for r in results]),
             "in_scope_empty": _rate([not r["ranked"] for r in in_scope])}
    if out_of_scope:
        rates["out_of_scope_empty"] = _rate([not r["ranked"] for r in out_of_scope])
    return rates


def _rate(flags: List[bool]) -> Optional[float]:
    return round(sum(flags) / len(flags), 4) if flags else None
