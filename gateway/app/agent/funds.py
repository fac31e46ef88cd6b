"""The funds the console knows, and their names, from the knowledge base's fund files
(knowledge/<fund>/_fund.yml): no fund is spelled out in the console's code."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from gateway.app.config import FUNDS

KNOWLEDGE = Path(__file__).resolve().parents[3] / "knowledge"


@lru_cache(maxsize=None)
def fund_names(fund: str) -> dict[str, str]:
    """{"fr": ..., "ar": ...}: the fund's name in the console's languages (its id when unknown)."""
    path = KNOWLEDGE / fund / "_fund.yml"
    names = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("name", {}) if path.exists() else {}
    return {lang: names.get(lang) or fund for lang in ("fr", "ar")}


def known_funds() -> tuple[str, ...]:
    return FUNDS
