"""The two funds Sanad serves and what differs between them."""
from __future__ import annotations

from enum import StrEnum


class Fund(StrEnum):
    cnss_ma = "cnss_ma"      # CNSS, Morocco: self-employed workers (TNS), monthly contributions
    casnos_dz = "casnos_dz"  # CASNOS, Algeria: non-salaried workers, annual contributions


CURRENCY = {Fund.cnss_ma: "MAD", Fund.casnos_dz: "DZD"}
COUNTRY_CODE = {Fund.cnss_ma: "212", Fund.casnos_dz: "213"}
SHORT_NAME = {Fund.cnss_ma: "CNSS", Fund.casnos_dz: "CASNOS"}
