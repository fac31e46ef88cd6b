"""registry.yml through bot/registry.py: the fallback chains every process follows, and a
malformed registry refused with the field named."""
import copy

import pytest
import yaml

from bot.registry import DEFAULT_PATH, RegistryError, load_registry, registry


def test_the_funds_and_languages_in_their_order():
    funds = registry()
    assert funds.fund_ids == ("cnss_ma", "casnos_dz") and funds.default_fund == "cnss_ma"
    assert funds.language_ids == ("fr", "ar", "ary", "arq", "en")
    assert funds.required_answer_languages == ("fr", "ar")
    assert {fund: funds.fund(fund).darija for fund in funds.fund_ids} == {"cnss_ma": "ary", "casnos_dz": "arq"}


@pytest.mark.parametrize("lang, chain", [("ary", ("ary", "ar", "fr")), ("arq", ("arq", "ar", "fr")),
                                         ("ar", ("ar", "fr")), ("en", ("en", "fr")), ("fr", ("fr",)),
                                         ("de", ("fr",)), (None, ("fr",))])
def test_fallback_chains(lang, chain):
    assert registry().fallback_chain(lang) == chain


def test_fallback_and_texts_along_the_chain():
    funds = registry()
    assert funds.fallback("arq", {"fr", "ar", "en"}) == "ar"
    assert funds.fallback("en", ("fr", "ar")) == "fr"
    assert funds.reply_language("ary", "latn", {"fr", "ar", "ary"}) == "fr"  # arabizi
    assert funds.in_language({"fr": "bonjour", "ar": "مرحبا"}, "ary") == "مرحبا"
    assert funds.in_language({"ar": "مرحبا"}, "en", default="?") == "?"
    with pytest.raises(KeyError):
        funds.in_language({"ar": "مرحبا"}, "en")


def test_number_formats_and_locales():
    funds = registry()
    assert funds.fund("casnos_dz").affiliate_number.accepts("161203004217")
    assert not funds.fund("cnss_ma").affiliate_number.accepts("161203004217")
    assert funds.babel_locale("arq", "casnos_dz") == "ar_DZ" and funds.babel_locale("fr", "cnss_ma") == "fr_MA"


def broken(tmp_path, change) -> str:
    data = copy.deepcopy(yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8")))
    change(data)
    path = tmp_path / "registry.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(RegistryError) as refused:
        load_registry(path)
    assert str(path) in str(refused.value)
    return str(refused.value)


@pytest.mark.parametrize("change, says", [
    (lambda d: d["languages"]["fr"].update(fallback="en"), "exactly one language must have no fallback"),
    (lambda d: d["languages"]["ar"].update(fallback="ary"), "languages.ar.fallback: a circle"),
    (lambda d: d["languages"]["ary"].update(fallback="tzm"), "languages.ary.fallback: unknown language 'tzm'"),
    (lambda d: d["funds"]["cnss_ma"].update(darija="aeb"), "funds.cnss_ma.darija: unknown language 'aeb'"),
    (lambda d: d["funds"]["casnos_dz"].update(time_zone="Africa/Alger"), "funds.casnos_dz.time_zone"),
    (lambda d: d["funds"]["cnss_ma"]["affiliate_number"].update(example="12 345"),
     "funds.cnss_ma.affiliate_number.example"),
    (lambda d: d["funds"]["cnss_ma"].pop("currency"), "funds.cnss_ma.currency: missing"),
    (lambda d: d["funds"]["cnss_ma"]["name"].update(de="Nationale Sozialversicherungskasse"),
     "funds.cnss_ma.name: unknown languages ['de']"),
    (lambda d: d.update(funds={}), "funds: at least one fund is needed"),
])
def test_a_malformed_registry_is_refused_naming_the_field(tmp_path, change, says):
    assert says in broken(tmp_path, change)
