"""Normalisation and language detection: what decides the reply language and the matching."""
import pytest

from bot.nlu.language import Language, detect, reply_language
from bot.nlu.text import fold_arabizi, fold_digits, fold_in_place, normalise, read_idioms, script_of


@pytest.mark.parametrize("raw, expected", [
    ("Où PAYER la CNSS ?", "ou payer la cnss ?"),
    ("أُرِيدُ   معرفة", "اريد معرفه"),  # diacritics gone, hamza seat and ta marbuta folded, spaces
    ("الضمـــــان", "الضمان"),  # tatweel
    ("سلاااااام", "سلاام"),  # elongation kept at two
    ("salaaaaam", "salaam"),
    ("١٢/٠٣/١٩٨٠", "12/03/1980"),
    ("l’AMO", "l'amo"),
    ("<b>Où payer</b> la CNSS ?", "ou payer la cnss ?"),  # markup tags carry no question
    ("<script>alert(1)</script>", "alert(1)"),
    ("<img src=x onerror=alert(1)>", "<img src=x onerror=alert(1)>"),  # nothing but a tag: kept
    ("je gagne < 5000 dh <3", "je gagne < 5000 dh <3"),  # not tags
])
def test_normalise(raw, expected):
    assert normalise(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    ("je suis à mon compte, je dois m'affilier ?", "je suis indépendant, je dois m'affilier ?"),
    ("un photographe qui bosse a son compte", "un photographe qui bosse indépendant"),
    ("je me suis mis à mon propre compte", "je me suis mis indépendant"),
    ("Je travaille POUR MON COMPTE comme menuisier", "Je travaille indépendant comme menuisier"),
    ("À leur compte depuis 2020", "indépendant depuis 2020"),
])
def test_the_french_idiom_for_self_employed_is_read_as_meant(raw, expected):
    assert read_idioms(raw) == expected


@pytest.mark.parametrize("raw", [
    "je n'arrive pas à accéder à mon compte",
    "l'argent versé à mon compte en mars",
    "je suis à mon compte cnss depuis hier",  # an account, named
    "le solde pour mon compte",  # "pour" is the idiom only after a verb of work
    "situation de mon compte svp",
    "combien je dois sur mon compte",
])
def test_an_account_stays_an_account(raw):
    assert read_idioms(raw) == raw


def test_normalise_keeps_digits_inside_arabizi():
    assert normalise("ch7al 3afak wa9tach") == "ch7al 3afak wa9tach"


@pytest.mark.parametrize("spellings", [
    ("ch7al", "chhal", "shal", "sh7al"),  # how much
    ("nkhelles", "nkheles"),  # I pay
    ("9adech", "qadech", "kadech"),  # how much (Algerian)
    ("3afak", "afak"),
])
def test_arabizi_spellings_of_one_word_share_a_key(spellings):
    assert len({fold_arabizi(normalise(word)) for word in spellings}) == 1


def test_arabizi_key_leaves_numbers_and_arabic_script_alone():
    assert fold_arabizi("135 dh 6.37% 30/06 كيفاش") == "135 dh 6.37% 30/06 كيفاش"


def test_fold_digits_persian_and_arabic_indic():
    assert fold_digits("۱۲-٠٣") == "12-03"


@pytest.mark.parametrize("text, script", [("كيف أدفع؟", "arab"), ("kifach nkhles", "latn"), ("123", "latn"),
                                          ("la CNSS واش", "latn")])
def test_script(text, script):
    assert script_of(text) == script


@pytest.mark.parametrize("text, fund, lang, script", [
    ("comment payer mes cotisations sans carte bancaire", "cnss_ma", "fr", "latn"),
    ("how much do I have to pay every month", "casnos_dz", "en", "latn"),
    ("ما هي شروط الاستفادة من التقاعد؟", "cnss_ma", "ar", "arab"),
    ("شنو خاصني ندير باش نتسجل فالضمان؟", "cnss_ma", "ary", "arab"),
    ("راني حاب نعرف وين نخلص الكاسنوس", "casnos_dz", "arq", "arab"),
    ("bghit n3ref chhal khassni nkhelles f chher", "cnss_ma", "ary", "latn"),
    ("rani nheb n3ref 9adech lazem nkhalles", "casnos_dz", "arq", "latn"),
    # Shared Darija markers take the variety of the deployment's country.
    ("واش كاين شي حل للديون؟", "casnos_dz", "arq", "arab"),
    ("واش كاين شي حل للديون؟", "cnss_ma", "ary", "arab"),
    # One marker of the other country's Darija is weak evidence (words cross the border)...
    ("شنو هي الوراق لي لازم نجيبهم للوكالة", "casnos_dz", "arq", "arab"),
    ("chno les papiers li lazem", "casnos_dz", "arq", "latn"),
    ("وين نخلص لامو", "cnss_ma", "ary", "arab"),
    # ...a clear lead of them is not.
    ("بغيت نعرف شنو خاصني نوجد", "casnos_dz", "ary", "arab"),
    ("rani nheb n3ref 9adech", "cnss_ma", "arq", "latn"),
])
def test_detect(text, fund, lang, script):
    assert detect(text, fund) == Language(lang, script)


@pytest.mark.parametrize("text, weak", [
    # Two words and no marker of any language: the script's default is a guess.
    ("وفين نخلصهم؟", True), ("والطبيب؟", True), ("وبنتي عندها 24 عام وكتقرا فالجامعة؟", True),
    ("CNSS ?", True), ("AMO", True), ("كي نمرض وما نخدمش يخلصوني الايام؟", True),  # ما: Darija's negation too
    # A marker word, or a message long enough to be its own evidence, is not.
    ("ما هي شروط الاستفادة من التقاعد؟", False), ("متى؟", False), ("وين نخلص", False),
    ("هل يلزم التاجر بالانتساب إلى الكاسنوس؟", False), ("et où ?", False), ("and when?", False),
    ("w fin?", False), ("الفلاحين الصغار المستقلين بالمناطق الجبلية البعيدة عن المدن الكبرى", False),
])
def test_a_short_message_without_a_marker_word_is_weak_evidence_of_its_language(text, weak):
    assert detect(text, "cnss_ma").weak is weak, text


@pytest.mark.parametrize("detected, available, expected", [
    (Language("ary", "arab"), {"fr", "ar", "ary"}, "ary"),
    (Language("arq", "arab"), {"fr", "ar"}, "ar"),  # no Algerian Darija answer: MSA
    (Language("ary", "latn"), {"fr", "ar", "ary"}, "fr"),  # arabizi is answered in French
    (Language("en", "latn"), {"fr", "ar"}, "fr"),
    (Language("en", "latn"), {"fr", "ar", "en"}, "en"),
    (Language("ar", "arab"), {"fr", "ar"}, "ar"),
])
def test_reply_language(detected, available, expected):
    assert reply_language(detected, available) == expected


@pytest.mark.parametrize("fold, expected", [(False, ["ch7al", "kankhelles", "f", "chhar"]),
                                            (True, ["chal", "kankheles", "f", "char"])])
def test_tokenizer_gives_the_character_n_grams_the_folded_words_when_configured(fold, expected):
    from rasa.shared.nlu.constants import TEXT
    from rasa.shared.nlu.training_data.message import Message

    from bot.nlu.components import NormalisingTokenizer

    tokenizer = NormalisingTokenizer({**NormalisingTokenizer.get_default_config(), "arabizi_fold": fold})
    tokens = tokenizer.tokenize(Message(data={TEXT: "Ch7al kankhelles f chhar"}), TEXT)
    assert [t.text for t in tokens] == expected


def test_fold_in_place_keeps_every_position():
    text = "Né le ١٢ FÉVRIER 1980 — آخر أجل"
    folded = fold_in_place(text)
    assert len(folded) == len(text)
    assert folded.startswith("ne le 12 fevrier 1980") and folded.endswith("آخر أجل")  # Arabic untouched
