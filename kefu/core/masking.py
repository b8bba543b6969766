"""Masking of personal data for roles without the reveal permission (PIPL art. 51)."""

from __future__ import annotations

import re


def mask_phone(phone: str | None) -> str:
    """138****5678 for mainland mobiles; keep the last four digits of anything else."""
    if not phone:
        return ""
    digits = re.sub(r"\D", "", phone)
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if len(digits) == 11:
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) <= 4:
        return "*" * len(digits)
    return "*" * (len(digits) - 4) + digits[-4:]


def mask_email(email: str | None) -> str:
    if not email or "@" not in email:
        return email or ""
    local, domain = email.split("@", 1)
    return f"{local[:1]}***@{domain}"


def mask_name(name: str | None) -> str:
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else name


def mask_address_detail(detail: str | None) -> str:
    """The street-level part below the district is hidden entirely."""
    return "******" if detail else ""
