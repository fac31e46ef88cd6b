"""What people type in the balance form."""
import datetime as dt

import pytest

from bot.nlu.userdata import affiliate_number, birth_date, looks_like_data, one_time_code

TODAY = dt.date(2026, 11, 22)


@pytest.mark.parametrize("text, fund, expected", [
    ("100204821", "cnss_ma", "100204821"),
    ("100 204 821", "cnss_ma", "100204821"),
    ("mon numero c'est 100-204-821", "cnss_ma", "100204821"),
    ("١٠٠٢٠٤٨٢١", "cnss_ma", "100204821"),
    ("16 1203 004217", "casnos_dz", "161203004217"),
    ("10020482", "cnss_ma", None),  # one digit short
    ("12/03/1980", "cnss_ma", None),
    ("je ne sais pas", "cnss_ma", None),
])
def test_affiliate_number(text, fund, expected):
    assert affiliate_number(text, fund) == expected


@pytest.mark.parametrize("text", ["12/03/1980", "12-3-1980", "12.03.1980", "1980-03-12", "12 mars 1980",
                                  "né le 12 Mars 1980", "le 12 mars 1980", "12 march 1980", "١٢/٠٣/١٩٨٠",
                                  "12 مارس 1980", "١٢ مارس ١٩٨٠", "12 march 1980"])
def test_birth_date_formats(text):
    assert birth_date(text, TODAY) == dt.date(1980, 3, 12)


@pytest.mark.parametrize("text", ["31/02/1980", "12/03/2020", "12/03/1890", "hier", "1980"])
def test_impossible_or_implausible_birth_dates(text):
    assert birth_date(text, TODAY) is None


def test_arabic_month_names_of_both_countries():
    assert birth_date("3 جوان 1975", TODAY) == dt.date(1975, 6, 3)
    assert birth_date("3 يونيو 1975", TODAY) == dt.date(1975, 6, 3)
    assert birth_date("1 غشت 1970", TODAY) == dt.date(1970, 8, 1)


@pytest.mark.parametrize("text, expected", [("482913", "482913"), ("482 913", "482913"), ("٤٨٢٩١٣", "482913"),
                                            ("le code est 482913", "482913"), ("4829", None), ("4829131", None)])
def test_one_time_code(text, expected):
    assert one_time_code(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("100 204 821", True), ("mon numero est 100204821", True), ("12 mars 1980", True),
    ("482913", True), ("رقمي هو ١٠٠٢٠٤٨٢١", True),
    ("comment payer ma cotisation de 2024 en ligne", False), ("ou payer la cnss", False),
    ("appeler le 3939", False), ("la loi 41.23", False),
])
def test_looks_like_data(text, expected):
    assert looks_like_data(text) is expected
