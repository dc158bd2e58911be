"""The dashboard's languages: English and Chinese (中文) messages, and numbers, money,
percentages and dates formatted the way each locale writes them (Babel, from the
Unicode CLDR data)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib.resources import files
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent

LANGUAGES: dict[str, str] = {"en": "English", "zh": "中文"}
"""Language code -> its own name (what the switcher shows)."""
BABEL_LOCALES = {"en": "en_GB", "zh": "zh_Hans_CN"}
DEFAULT_LANGUAGE = "en"


@cache
def messages(language: str) -> dict[str, str]:
    """The message catalog of ``language``: every ``locales/<language>/*.json`` (one
    file per area of the dashboard), merged."""
    catalog: dict[str, str] = {}
    folder = files("shopsense.dashboard").joinpath("locales", language)
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".json"):
            catalog.update(json.loads(entry.read_text("utf-8")))
    return catalog


def language_of(requested: str | None) -> str:
    """A supported language code: ``requested`` when supported, else the default."""
    return requested if requested in LANGUAGES else DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Translator:
    """Messages and formats of one language, handed to every template as ``t``."""

    language: str
    currency: str | None = None
    """The shop's currency (ISO 4217); None writes money as a plain number."""

    @property
    def locale(self) -> Locale:
        return Locale.parse(BABEL_LOCALES[self.language])

    def __call__(self, key: str, **values: Any) -> str:
        """The message ``key`` with ``{name}`` fields filled; the key itself if missing
        (a missing translation shows, it does not break the page)."""
        text = messages(self.language).get(key) or messages(DEFAULT_LANGUAGE).get(key, key)
        return text.format(**values) if values else text

    def number(self, value: float | int | None, digits: int = 0) -> str:
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return "–"
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, format=pattern, locale=self.locale)

    def percent(self, value: float | None, digits: int = 1) -> str:
        if value is None or not math.isfinite(value):
            return "–"
        pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
        return format_percent(value, format=pattern, locale=self.locale)

    def money(self, value: float | None) -> str:
        if value is None or not math.isfinite(value):
            return "–"
        if self.currency is None:
            return self.number(value, 2)
        return format_currency(value, self.currency, locale=self.locale)

    def date(self, value: date | str | None) -> str:
        if value is None:
            return "–"
        day = date.fromisoformat(value) if isinstance(value, str) else value
        return format_date(day, format="medium", locale=self.locale)

    def datetime(self, value: datetime | None) -> str:
        if value is None:
            return "–"
        return format_datetime(value, format="medium", locale=self.locale)


__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "Translator", "language_of", "messages"]
