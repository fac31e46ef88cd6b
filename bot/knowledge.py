"""The curated knowledge base (knowledge/): loading, validation and the rules of
../shared/domain/topics.md. Schema: knowledge/README.md.

Works under pydantic 1 (Rasa side) and pydantic 2 (FastAPI side, through `pydantic.v1`)."""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import yaml

from bot.registry import registry

try:  # pydantic 2 ships the v1 API under pydantic.v1
    from pydantic.v1 import BaseModel, Field, ValidationError, root_validator, validator
except ImportError:  # pydantic 1 (Rasa 3.6)
    from pydantic import BaseModel, Field, ValidationError, root_validator, validator

REPO = Path(__file__).resolve().parents[1]
DEFAULT_KB_DIR = REPO / "knowledge"

FUNDS = registry().fund_ids
FUND_ENV = "SANAD_FUND"  # the fund a deployment serves
TOPICS = (
    "eligibility", "registration", "contribution_amount", "contribution_deadline", "payment_channels",
    "waiting_period", "debt_relief", "health_coverage", "dependants", "retirement",
    "family_allowances", "contact", "rumours",
)
LANGUAGES = registry().language_ids
REQUIRED_ANSWER_LANGUAGES = registry().required_answer_languages
MAX_ANSWER_CHARS = 700  # a phone screen; answers are written to stay well under it
_SOURCE_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_ARABIC = re.compile("[\u0600-\u06ff]")


def deployment_fund() -> str:
    """The fund this deployment serves: SANAD_FUND when it names one, else the registry's first."""
    configured = os.environ.get(FUND_ENV)
    return configured if configured in FUNDS else registry().default_fund


def known_fund(requested: object) -> str:
    """The fund a message is answered for: the one it names when Sanad knows it, else the
    deployment's. Rasa's channel refuses an unknown fund (bot/channels.py); behind it, no
    component may raise on one, whatever the entry point (HTTP API, `sanad ask`)."""
    return requested if isinstance(requested, str) and requested in FUNDS else deployment_fund()


def _registered_fund(cls, value):
    if value not in FUNDS:
        raise ValueError(f"unknown fund {value!r} (registry.yml has {', '.join(FUNDS)})")
    return value


class Source(BaseModel):
    title: str = Field(..., min_length=3)
    publisher: str = Field(..., min_length=2)
    date: Optional[str] = None  # YYYY, YYYY-MM or YYYY-MM-DD; None when the page shows none
    date_deduced: bool = False
    url: Optional[str] = None
    official: bool = False
    weak: bool = False  # the facts file marks it ⚠ FAIBLE (blog, private site, unconfirmed remark)

    class Config:
        extra = "forbid"

    @validator("date", pre=True)
    def _date_format(cls, value):
        if value is None:
            return None
        value = str(value)
        if not _SOURCE_DATE.match(value):
            raise ValueError(f"source date {value!r} is not YYYY, YYYY-MM or YYYY-MM-DD")
        return value

    @validator("url")
    def _url_scheme(cls, value):
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError(f"url {value!r} must start with http(s)://")
        return value

    def label(self, lang: str) -> str:
        """'Title, publisher, 2024-01' for the source line of an answer."""
        date = self.date or registry().in_language(UNDATED, lang)
        return f"{self.title}, {self.publisher}, {date}"


UNDATED = {"fr": "date non affichée", "ar": "غير مؤرخ", "ary": "بلا تاريخ", "arq": "بلا تاريخ", "en": "undated"}


class Entry(BaseModel):
    fund: str
    topic: str
    reviewed: dt.date
    review_by: dt.date
    valid_until: Optional[dt.date] = None
    sources: List[Source] = Field(..., min_items=1)
    questions: Dict[str, List[str]]
    answer: Dict[str, str]

    class Config:
        extra = "forbid"

    _known_fund = validator("fund", allow_reuse=True)(_registered_fund)

    @validator("topic")
    def _known_topic(cls, value):
        if value not in TOPICS:
            raise ValueError(f"unknown topic {value!r}")
        return value

    @validator("questions", "answer")
    def _known_languages(cls, value):
        unknown = set(value) - set(LANGUAGES)
        if unknown:
            raise ValueError(f"unknown languages {sorted(unknown)}")
        return value

    @validator("answer")
    def _answers(cls, value):
        missing = [lang for lang in REQUIRED_ANSWER_LANGUAGES if not (value.get(lang) or "").strip()]
        if missing:
            raise ValueError(f"answer missing in {missing}")
        for lang, text in value.items():
            if len(text) > MAX_ANSWER_CHARS:
                raise ValueError(f"answer[{lang}] is {len(text)} characters (max {MAX_ANSWER_CHARS})")
            script = registry().languages[lang].script
            if script == "arab" and not _ARABIC.search(text):
                raise ValueError(f"answer[{lang}] is not in Arabic script")
            if script == "latn" and len(_ARABIC.findall(text)) > len(text) / 4:
                raise ValueError(f"answer[{lang}] is mostly Arabic script")
        return {lang: " ".join(text.split()) for lang, text in value.items()}

    @root_validator(skip_on_failure=True)
    def _dates(cls, values):
        if values["review_by"] < values["reviewed"]:
            raise ValueError("review_by is before reviewed")
        darija = registry().fund(values["fund"]).darija
        others = sorted((registry().darija_languages() - {darija}) & (set(values["answer"]) | set(values["questions"])))
        if others:
            raise ValueError(f"{values['fund']} entry holds {others[0]} text (its Darija is {darija})")
        return values

    @property
    def key(self) -> tuple[str, str]:
        return (self.fund, self.topic)

    def is_current(self, today: dt.date) -> bool:
        return self.valid_until is None or today <= self.valid_until

    def answer_in(self, lang: str) -> str:
        return registry().in_language(self.answer, lang)


class Fund(BaseModel):
    fund: str
    name: Dict[str, str]
    official_channels: Dict[str, str]
    sources: List[Source] = Field(..., min_items=1)
    reviewed: dt.date
    review_by: dt.date

    class Config:
        extra = "forbid"

    _known_fund = validator("fund", allow_reuse=True)(_registered_fund)

    @validator("official_channels", "name")
    def _fr_and_ar(cls, value):
        missing = [lang for lang in REQUIRED_ANSWER_LANGUAGES if not value.get(lang)]
        if missing:
            raise ValueError(f"missing in {missing}")
        return value

    def in_lang(self, field: str, lang: str) -> str:
        return registry().in_language(getattr(self, field), lang)


class TopicTitles(BaseModel):
    """Short topic names shown on clarification buttons, per language."""

    titles: Dict[str, Dict[str, str]]

    def title(self, topic: str, lang: str) -> str:
        return registry().in_language(self.titles.get(topic, {}), lang, default=topic)


# What a writer leaves in a title or publisher that was not known; compared without case, accents
# or punctuation (knowledge/README.md, "Sources").
PLACEHOLDER_WORDS = frozenset({
    "todo", "to do", "tbd", "fixme", "xxx", "placeholder", "source", "sources", "titre", "title",
    "publisher", "editeur", "auteur", "author", "article", "page", "site", "lien", "link", "url",
    "date", "inconnu", "unknown", "n a", "na", "none", "null", "a completer", "lorem ipsum",
})
_PLACEHOLDER_MARKER = re.compile(
    r"\b(todo|tbd|fixme|xxx|placeholder|lorem ipsum|a completer|non releve|non connu|inconnu|unknown)\b")


def _comparable(text: str) -> str:
    """'Éditeur non relevé…' -> 'editeur non releve': lower case, no accents, punctuation as spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(re.sub(r"[\W_]+", " ", plain).split())


def placeholder_reason(text: str) -> Optional[str]:
    """Why a source's title or publisher is a placeholder rather than a real name, or None."""
    comparable = _comparable(text)
    if not comparable:
        return "has no words"
    if comparable in PLACEHOLDER_WORDS:
        return "is a generic word"
    marker = _PLACEHOLDER_MARKER.search(comparable)
    return f"holds {marker.group(0)!r}, a mark of unfinished work" if marker else None


def source_problems(sources: List[Source]) -> List[str]:
    """What the source line would show a citizen that they cannot use: a placeholder title or
    publisher; no link and no date anywhere (nothing to check, no age to judge); only sources the
    facts file marks weak (a claim never stronger than its source)."""
    problems = []
    for number, source in enumerate(sources, 1):
        for field in ("title", "publisher"):
            reason = placeholder_reason(getattr(source, field))
            if reason:
                problems.append(f"source {number}: {field} {getattr(source, field)!r} {reason}: "
                                f"a placeholder, give the real {field} from the facts file")
        if _comparable(source.title) == _comparable(source.publisher):
            problems.append(f"source {number}: the title only repeats the publisher {source.publisher!r}")
    if sources and not any(source.url or source.date for source in sources):
        problems.append("no source has a link or a date: a citizen can neither check nor date the answer")
    if sources and all(source.weak for source in sources):
        problems.append("every source is weak (⚠ FAIBLE in the facts file): add a stronger source, "
                        "or keep only what one supports and send the citizen to the official channel")
    return problems


@dataclass
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class KnowledgeBase:
    entries: Dict[tuple, Entry]
    funds: Dict[str, Fund]
    topics: TopicTitles
    fingerprint: str
    problems: List[Problem]

    def entry(self, fund: str, topic: str) -> Optional[Entry]:
        return self.entries.get((fund, topic))

    def fund(self, fund: str) -> Fund:
        return self.funds[fund]

    def check(self, today: dt.date) -> List[Problem]:
        """Everything `sanad kb check` reports: load problems, missing entries, dates, sources."""
        problems = list(self.problems)
        for fund in FUNDS:
            if fund not in self.funds:
                problems.append(Problem(f"{fund}/_fund.yml", "missing"))
            for topic in TOPICS:
                if (fund, topic) not in self.entries:
                    problems.append(Problem(f"{fund}/{topic}.yml", "missing entry"))
        for item in list(self.entries.values()) + list(self.funds.values()):
            where = f"{item.fund}/{getattr(item, 'topic', '_fund')}.yml"
            if item.review_by < today:
                problems.append(Problem(where, f"review date passed ({item.review_by}): re-check its sources"))
            if item.reviewed > today:
                problems.append(Problem(where, f"reviewed date {item.reviewed} is in the future"))
            problems += [Problem(where, message) for message in source_problems(item.sources)]
        for topic in TOPICS:
            if topic not in self.topics.titles:
                problems.append(Problem("topics.yml", f"no title for {topic}"))
        return problems


def _load_yaml(path: Path):
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def load_knowledge_base(directory: Path = DEFAULT_KB_DIR) -> KnowledgeBase:
    """Load every entry; invalid files are reported in `problems`, never half-loaded."""
    entries, funds, problems = {}, {}, []
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*/*.yml")) + [directory / "topics.yml"]:
        if path.exists():
            digest.update(path.read_bytes())
    for path in sorted(directory.glob("*/*.yml")):
        rel = f"{path.parent.name}/{path.name}"
        try:
            data = _load_yaml(path)
            if path.name == "_fund.yml":
                fund = Fund.parse_obj(data)
                funds[fund.fund] = fund
                continue
            entry = Entry.parse_obj(data)
        except (ValidationError, yaml.YAMLError, TypeError) as error:
            problems.append(Problem(rel, str(error).replace("\n", "; ")))
            continue
        if (entry.fund, entry.topic) != (path.parent.name, path.stem):
            problems.append(Problem(rel, f"holds {entry.fund}/{entry.topic}: file and content disagree"))
            continue
        entries[entry.key] = entry
    try:
        topics = TopicTitles.parse_obj(_load_yaml(directory / "topics.yml"))
    except (FileNotFoundError, ValidationError, yaml.YAMLError) as error:
        problems.append(Problem("topics.yml", str(error)))
        topics = TopicTitles(titles={})
    return KnowledgeBase(entries, funds, topics, digest.hexdigest()[:16], problems)
