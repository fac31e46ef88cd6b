"""The funds Sanad serves and what differs between them: the registry's (registry.yml, read
through bot/registry.py, standard library and PyYAML only)."""
from __future__ import annotations

from enum import StrEnum

from bot.registry import registry

_FUNDS = registry().funds

# An enum, so that the API's schema lists the funds (backend/openapi.json) and refuses any other.
Fund = StrEnum("Fund", {fund_id: fund_id for fund_id in _FUNDS}, module=__name__)

CURRENCY = {Fund(fund_id): spec.currency for fund_id, spec in _FUNDS.items()}
COUNTRY_CODE = {Fund(fund_id): spec.phone_country_code for fund_id, spec in _FUNDS.items()}
NATIONAL_DIGITS = {Fund(fund_id): spec.phone_national_digits for fund_id, spec in _FUNDS.items()}
SHORT_NAME = {Fund(fund_id): spec.short_name for fund_id, spec in _FUNDS.items()}
