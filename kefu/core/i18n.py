"""Gettext with Babel catalogues; `zh_CN` is the default locale, `en` the alternative.

The locale of the current request lives in a context variable, so templates, services and
error messages all speak the user's language without passing it around.
"""

from __future__ import annotations

import gettext as _gettext
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

from babel.support import NullTranslations, Translations

LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"

current_locale: ContextVar[str] = ContextVar("kefu_locale", default=DEFAULT_LOCALE)


@lru_cache
def translations(locale: str) -> _gettext.NullTranslations:
    found = Translations.load(str(LOCALE_DIR), [locale], domain="messages")
    return found if isinstance(found, Translations) else NullTranslations()


def gettext(message: str) -> str:
    return translations(current_locale.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_locale.get()).ngettext(singular, plural, n)


_ = gettext


def lazy_pair(zh: str, en: str) -> str:
    """Pick one of two texts by locale, for messages built from data (e.g. import errors)."""
    return zh if current_locale.get() == "zh_CN" else en


def negotiate(accept_language: str | None, cookie: str | None) -> str:
    if cookie in LOCALES:
        return cookie
    if accept_language:
        for part in accept_language.split(","):
            tag = part.split(";")[0].strip().lower()
            if tag.startswith("zh"):
                return "zh_CN"
            if tag.startswith("en"):
                return "en"
    return DEFAULT_LOCALE
