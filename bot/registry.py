"""The registry of funds and languages (registry.yml at the repository root): the one place that
says which funds Sanad serves and which languages it speaks, with what code needs to handle each
(fallback chains, scripts, number formats, currency, time zone, the Darija the NLU expects).

Standard library and PyYAML only, so that every process reads it through this module, whichever
Python environment it runs in (Rasa, pydantic 1; FastAPI, pydantic 2). SANAD_REGISTRY names
another file. A malformed registry stops the process that loads it, with a message naming the
field."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterable, Mapping, Optional, Tuple, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from bot.paths import REGISTRY as DEFAULT_PATH

REGISTRY_ENV = "SANAD_REGISTRY"
SCRIPTS = ("latn", "arab")
T = TypeVar("T")
_MISSING = object()


class RegistryError(ValueError):
    """registry.yml (or SANAD_REGISTRY's file) is not what this module expects."""


@dataclass(frozen=True)
class Language:
    id: str
    name: str  # its own name for itself (language menus)
    script: str  # latn | arab
    locale: str  # the CLDR language Babel writes its numbers and dates in
    fallback: Optional[str]  # read instead when a text is not written in this language
    latin_script_reply: Optional[str]  # the reply language of this language in Latin script (arabizi)
    required_in_answers: bool


@dataclass(frozen=True)
class AffiliateNumber:
    length: int
    pattern: str  # over the digits alone
    example: str

    def accepts(self, digits: str) -> bool:
        return len(digits) == self.length and re.fullmatch(self.pattern, digits) is not None


@dataclass(frozen=True)
class Fund:
    id: str
    short_name: str
    names: Mapping[str, str]
    aliases: Mapping[str, Tuple[str, ...]]
    tagline: Mapping[str, str]
    country: str  # ISO 3166-1 alpha-2
    country_names: Mapping[str, str]
    darija: str
    time_zone: str
    currency: str  # ISO 4217
    currency_symbols: Mapping[str, str]
    phone_country_code: str
    phone_national_digits: int
    affiliate_number: AffiliateNumber

    def alias_words(self) -> Tuple[str, ...]:
        return tuple(word for words in self.aliases.values() for alias in words for word in alias.split())


class Registry:
    def __init__(self, languages: Dict[str, Language], funds: Dict[str, Fund], path: Path) -> None:
        self.languages, self.funds, self.path = languages, funds, path
        self.root_language = next(lang for lang in languages.values() if lang.fallback is None).id

    @property
    def fund_ids(self) -> Tuple[str, ...]:
        return tuple(self.funds)

    @property
    def language_ids(self) -> Tuple[str, ...]:
        return tuple(self.languages)

    @property
    def required_answer_languages(self) -> Tuple[str, ...]:
        return tuple(lang for lang, language in self.languages.items() if language.required_in_answers)

    @property
    def default_fund(self) -> str:
        return next(iter(self.funds))

    def fund(self, fund_id: str) -> Fund:
        try:
            return self.funds[fund_id]
        except KeyError:
            raise KeyError(f"unknown fund {fund_id!r} (registry {self.path}: {', '.join(self.funds)})") from None

    def is_fund(self, value: object) -> bool:
        return isinstance(value, str) and value in self.funds

    def darija_languages(self) -> frozenset:
        return frozenset(fund.darija for fund in self.funds.values())

    def fallback_chain(self, lang: Optional[str]) -> Tuple[str, ...]:
        """`ary` -> (ary, ar, fr); an unknown language -> (fr,): the languages to try, in order."""
        chain = []
        while lang in self.languages and lang not in chain:
            chain.append(lang)
            lang = self.languages[lang].fallback
        return tuple(chain) or (self.root_language,)

    def fallback(self, lang: Optional[str], available: Iterable[str]) -> str:
        """The first language of `lang`'s chain that is available; else the chain's end."""
        available = set(available)
        chain = self.fallback_chain(lang)
        return next((candidate for candidate in chain if candidate in available), chain[-1])

    def in_language(self, texts: Mapping[str, T], lang: Optional[str], default: Any = _MISSING) -> T:
        """texts[lang], or the text of the first language of its fallback chain that has one
        (else `default`, when given)."""
        for candidate in self.fallback_chain(lang):
            if texts.get(candidate):
                return texts[candidate]
        if default is not _MISSING:
            return default
        raise KeyError(f"no text in {lang!r} nor in the languages it falls back to: {sorted(texts)}")

    def reply_language(self, lang: str, script: str, available: Iterable[str]) -> str:
        """The language to answer a message in `lang` written in `script`: arabizi Darija gets its
        `latin_script_reply`, then the fallback chain to what `available` holds."""
        language = self.languages.get(lang)
        if language and script == "latn" and language.latin_script_reply:
            lang = language.latin_script_reply
        return self.fallback(lang, available)

    def babel_locale(self, lang: str, fund_id: str) -> str:
        """`ar_MA` for Arabic or Darija at the Moroccan fund: the language's locale in the fund's
        country (its month names and number separators), which Babel may or may not know."""
        language = self.languages[self.fallback(lang, self.languages)]
        return f"{language.locale}_{self.fund(fund_id).country}"


def registry() -> Registry:
    """This process's registry: SANAD_REGISTRY's file, else registry.yml (loaded once per file)."""
    return load_registry(Path(os.environ.get(REGISTRY_ENV) or DEFAULT_PATH))


@lru_cache(maxsize=None)
def load_registry(path: Path) -> Registry:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise RegistryError(f"{path}: cannot read the registry: {error}") from None
    reader = _Reader(path)
    languages = {lang: _language(reader.at(f"languages.{lang}"), lang, spec)
                 for lang, spec in reader.mapping(data, "").get("languages", {}).items()}
    _check_languages(reader, languages)
    funds = {fund: _fund(reader.at(f"funds.{fund}"), fund, spec, languages)
             for fund, spec in reader.mapping(data, "").get("funds", {}).items()}
    if not funds:
        raise RegistryError(f"{path}: funds: at least one fund is needed")
    return Registry(languages, funds, path)


class _Reader:
    """Typed access to the YAML with error messages naming the file and the field."""

    def __init__(self, path: Path, where: str = "") -> None:
        self.path, self.where = path, where

    def at(self, where: str) -> "_Reader":
        return _Reader(self.path, where)

    def fail(self, field: str, problem: str) -> RegistryError:
        name = ".".join(part for part in (self.where, field) if part)
        return RegistryError(f"{self.path}: {name}: {problem}")

    def mapping(self, value: Any, field: str) -> Dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(field, "expected a mapping")
        return value

    def get(self, spec: Mapping[str, Any], field: str, kind: type, default: Any = ...) -> Any:
        if field not in spec:
            if default is ...:
                raise self.fail(field, "missing")
            return default
        value = spec[field]
        if kind is str and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # a country code written without quotes
        if not isinstance(value, kind):
            raise self.fail(field, f"expected {kind.__name__}, got {value!r}")
        return value

    def texts(self, spec: Mapping[str, Any], field: str, languages: Mapping[str, Any]) -> Dict[str, str]:
        texts = self.mapping(self.get(spec, field, dict), field)
        unknown = sorted(set(texts) - set(languages))
        if unknown:
            raise self.fail(field, f"unknown languages {unknown}")
        return {lang: str(text) for lang, text in texts.items()}


def _language(reader: _Reader, lang: str, spec: Any) -> Language:
    spec = reader.mapping(spec, "")
    script = reader.get(spec, "script", str)
    if script not in SCRIPTS:
        raise reader.fail("script", f"expected one of {SCRIPTS}")
    return Language(id=lang, name=reader.get(spec, "name", str), script=script, locale=reader.get(spec, "locale", str),
                    fallback=reader.get(spec, "fallback", str, None),
                    latin_script_reply=reader.get(spec, "latin_script_reply", str, None),
                    required_in_answers=reader.get(spec, "required_in_answers", bool, False))


def _check_languages(reader: _Reader, languages: Dict[str, Language]) -> None:
    roots = [lang for lang, language in languages.items() if language.fallback is None]
    if len(roots) != 1:
        raise reader.fail("languages", f"exactly one language must have no fallback, found {roots}")
    for lang, language in languages.items():
        for field in ("fallback", "latin_script_reply"):
            target = getattr(language, field)
            if target is not None and target not in languages:
                raise reader.fail(f"languages.{lang}.{field}", f"unknown language {target!r}")
        seen = [lang]
        while languages[seen[-1]].fallback is not None:
            seen.append(languages[seen[-1]].fallback)
            if seen[-1] in seen[:-1]:
                raise reader.fail(f"languages.{lang}.fallback", f"a circle: {' -> '.join(seen)}")


def _fund(reader: _Reader, fund: str, spec: Any, languages: Dict[str, Language]) -> Fund:
    spec = reader.mapping(spec, "")
    country = reader.mapping(reader.get(spec, "country", dict), "country")
    currency = reader.mapping(reader.get(spec, "currency", dict), "currency")
    phone = reader.mapping(reader.get(spec, "phone", dict), "phone")
    darija = reader.get(spec, "darija", str)
    if darija not in languages:
        raise reader.fail("darija", f"unknown language {darija!r}")
    time_zone = reader.get(spec, "time_zone", str)
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise reader.fail("time_zone", f"{time_zone!r} is not an IANA time zone (e.g. Africa/Casablanca)") from None
    aliases = reader.mapping(reader.get(spec, "aliases", dict, {}), "aliases")
    return Fund(
        id=fund, short_name=reader.get(spec, "short_name", str),
        names=reader.texts(spec, "name", languages),
        aliases={lang: tuple(str(alias) for alias in words) for lang, words in aliases.items()},
        tagline=reader.texts(spec, "tagline", languages),
        country=reader.at(f"{reader.where}.country").get(country, "code", str),
        country_names=reader.at(f"{reader.where}.country").texts(country, "name", languages),
        darija=darija, time_zone=time_zone,
        currency=reader.at(f"{reader.where}.currency").get(currency, "code", str),
        currency_symbols=reader.at(f"{reader.where}.currency").texts(currency, "symbol", languages),
        phone_country_code=reader.at(f"{reader.where}.phone").get(phone, "country_code", str),
        phone_national_digits=reader.at(f"{reader.where}.phone").get(phone, "national_digits", int),
        affiliate_number=_affiliate_number(reader.at(f"{reader.where}.affiliate_number"),
                                           reader.get(spec, "affiliate_number", dict)))


def _affiliate_number(reader: _Reader, spec: Mapping[str, Any]) -> AffiliateNumber:
    number = AffiliateNumber(length=reader.get(spec, "length", int), pattern=reader.get(spec, "pattern", str),
                             example=reader.get(spec, "example", str))
    try:
        re.compile(number.pattern)
    except re.error as error:
        raise reader.fail("pattern", f"not a regular expression: {error}") from None
    if not number.accepts(re.sub(r"\D", "", number.example)):
        raise reader.fail("example", f"{number.example!r} does not have {number.length} digits matching the pattern")
    return number
