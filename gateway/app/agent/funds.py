"""The funds the console knows, and their names, from the knowledge base's fund files
(knowledge/<fund>/_fund.yml): no fund is spelled out in the console's code."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from gateway.app.config import FUNDS

KNOWLEDGE = Path(__file__).resolve().parents[3] / "knowledge"


@lru_cache(maxsize=None)
def _fund_file(fund: str) -> dict:
    path = KNOWLEDGE / fund / "_fund.yml"
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.exists() else {}


def fund_names(fund: str) -> dict[str, str]:
    """{"fr": ..., "ar": ...}: the fund's name in the console's languages (its id when unknown)."""
    names = _fund_file(fund).get("name", {})
    return {lang: names.get(lang) or fund for lang in ("fr", "ar")}


def official_channels(fund: str, lang: str) -> str:
    """How to reach a person at the fund (phone, agencies, sites), in `lang` ("fr", "ar", "en"),
    else French: what a citizen is told when no agent answers live."""
    channels = _fund_file(fund).get("official_channels", {})
    return channels.get(lang) or channels.get("fr") or ""


def known_funds() -> tuple[str, ...]:
    return FUNDS
