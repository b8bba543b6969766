"""Slot extraction with regular expressions.

Runs on normalised text (full-width digits are already half-width). Slots:

* ``order_no``: a run of 10–20 digits (Taobao, JD and Pinduoduo order numbers are 12–19
  digits). An 11-digit run that looks like a mobile number and is introduced as a phone
  ("手机"/"电话"/"号码") is a phone, not an order.
* ``phone_tail``: the last four digits of the buyer's phone ("尾号1234", "手机后四位是1234").
* ``phone``: a full mainland mobile number introduced as a phone.
* ``height_cm`` / ``weight_kg``: body measurements for sizing ("170", "165cm", "52kg", "100斤" →
  50 kg).
* ``size``: a clothing size letter (S … XXXL, 2XL, 3XL) followed by 码/号 or standing alone
  before 的/码.
"""

from __future__ import annotations

import re

_ORDER = re.compile(r"(?<!\d)(\d{10,20})(?!\d)")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d{9})(?!\d)")
_PHONE_CONTEXT = re.compile(r"(手机|电话|号码|联系方式|手机号)[^\d]{0,6}$")
_PHONE_TAIL = re.compile(r"(?:尾号|后四位|后4位|末四位|末4位|尾数)(?:是|为|:)?\s*(\d{4})(?!\d)")
_HEIGHT = re.compile(r"(?:身高|我)?\s*(?<!\d)(1[4-9]\d)(?!\d)\s*(?:cm|厘米|公分)?")
_WEIGHT = re.compile(r"(?<!\d)(\d{2,3}(?:\.\d)?)\s*(斤|公斤|kg)")
_SIZE = re.compile(r"(?<![a-z])(xxxl|xxl|xl|xs|[2-5]xl|s|m|l)(?![a-z])\s*(?:码|号|的)")


def extract_slots(text: str) -> dict[str, str]:
    """Slots found in normalised text `text` (keys absent when not found)."""
    slots: dict[str, str] = {}
    tail = _PHONE_TAIL.search(text)
    if tail:
        slots["phone_tail"] = tail.group(1)
    for match in _ORDER.finditer(text):
        digits = match.group(1)
        if _MOBILE.fullmatch(digits) and _PHONE_CONTEXT.search(text[: match.start()]):
            slots.setdefault("phone", digits)
            slots.setdefault("phone_tail", digits[-4:])
            continue
        slots.setdefault("order_no", digits)
    weight = _WEIGHT.search(text)
    if weight:
        value = float(weight.group(1))
        if weight.group(2) == "斤":
            value /= 2
        slots["weight_kg"] = f"{value:g}"
    masked = _WEIGHT.sub(" ", _ORDER.sub(" ", text))
    height = _HEIGHT.search(masked)
    if height and any(cue in text for cue in ("身高", "穿", "cm", "厘米", "码")):
        slots["height_cm"] = height.group(1)
    size = _SIZE.search(text)
    if size:
        slots["size"] = size.group(1).upper()
    return slots
