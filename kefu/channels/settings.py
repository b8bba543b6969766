"""How a shop's chat looks: colours, greeting, title, position.

Stored in `Store.settings["widget"]`; the embed snippet's data attributes override them per
page. Only presentation lives here, so it is safe to hand to any visitor.
"""

from __future__ import annotations

import re
from typing import Any

from kefu.store.models import Store

DEFAULTS: dict[str, str] = {
    "color": "#1677ff",
    "greeting": "您好，欢迎光临！有什么可以帮您？",
    "position": "right",
    "title": "",
}
_COLOR = re.compile(r"^#[0-9a-fA-F]{3,8}$")


def clean_color(value: object, fallback: str = DEFAULTS["color"]) -> str:
    return value if isinstance(value, str) and _COLOR.match(value) else fallback


def widget_settings(store: Store) -> dict[str, Any]:
    configured = (store.settings or {}).get("widget") or {}
    merged = {**DEFAULTS, **{k: v for k, v in configured.items() if k in DEFAULTS and v}}
    return {
        "channel": store.code,
        "store_name": store.name,
        "title": str(merged["title"] or store.name),
        "greeting": str(merged["greeting"])[:200],
        "color": clean_color(merged["color"]),
        "position": "left" if merged["position"] == "left" else "right",
    }
