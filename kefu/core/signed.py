"""Signed, expiring tokens that name one record: the credential of a customer's link.

A ticket status page or a chat survey opens with such a token instead of an account. It is
signed with `KEFU_SECRET_KEY` and salted per purpose, so it cannot be guessed, edited to
point at another record, or reused for another purpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from kefu.core.config import get_settings
from kefu.core.errors import Invalid, NotFound


@dataclass(frozen=True)
class SignedId:
    purpose: str  # the salt, e.g. "kefu.tickets.portal"
    key: str  # the field that carries the id, e.g. "t"
    max_age_s: int
    expired: tuple[str, str]  # (zh, en) when the link is too old
    invalid: tuple[str, str]  # (zh, en) when it is forged or malformed

    def _serializer(self) -> URLSafeTimedSerializer:
        secret = get_settings().secret_key.get_secret_value()
        return URLSafeTimedSerializer(secret, salt=self.purpose)

    def dumps(self, record_id: int) -> str:
        return self._serializer().dumps({self.key: record_id})

    def loads(self, token: str) -> int:
        try:
            data: Any = self._serializer().loads(token, max_age=self.max_age_s)
        except SignatureExpired as exc:
            raise Invalid(*self.expired) from exc
        except BadSignature as exc:
            raise NotFound(*self.invalid) from exc
        if not isinstance(data, dict) or not isinstance(data.get(self.key), int):
            raise NotFound(*self.invalid)
        return int(data[self.key])
