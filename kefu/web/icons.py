"""Line icons for the UI, drawn on a 24×24 grid; templates call `{{ icon("inbox") }}`."""

from __future__ import annotations

from markupsafe import Markup, escape

ICONS: dict[str, str] = {
    "home": '<path d="M4 11l8-7 8 7"/><path d="M6 10v10h12V10"/><path d="M10 20v-5h4v5"/>',
    "inbox": '<path d="M3 13h5l1.5 3h5L16 13h5"/><path d="M5.5 5h13L21 13v6H3v-6z"/>',
    "ticket": (
        '<path d="M4 7a2 2 0 0 1 2-2h12a2 2 0 0 1 2 2v2a2 2 0 0 0 0 4v2a2 2 0 0 1-2 2H6'
        'a2 2 0 0 1-2-2v-2a2 2 0 0 0 0-4z"/><path d="M10 7v2M10 11v2M10 15v2"/>'
    ),
    "customers": (
        '<circle cx="9" cy="8" r="3.5"/><path d="M2.5 20c.8-3.6 3.4-5.5 6.5-5.5s5.7 1.9 6.5 5.5"/>'
        '<path d="M16 4.5a3.5 3.5 0 0 1 0 7"/><path d="M18 14.8c1.8.6 3 2.3 3.5 5.2"/>'
    ),
    "orders": '<path d="M5 8h14l-1 12H6z"/><path d="M9 8V6a3 3 0 0 1 6 0v2"/>',
    "knowledge": (
        '<path d="M4 4h5a3 3 0 0 1 3 2 3 3 0 0 1 3-2h5v15h-5a3 3 0 0 0-3 2 3 3 0 0 0-3-2H4z"/>'
        '<path d="M12 6v15"/>'
    ),
    "reports": '<path d="M4 4v16h16"/><path d="M8 16v-4M12 16V8M16 16v-6"/>',
    "settings": (
        '<path d="M4 6h10M18 6h2M4 12h4M12 12h8M4 18h12"/><circle cx="16" cy="6" r="2"/>'
        '<circle cx="10" cy="12" r="2"/><circle cx="18" cy="18" r="2"/>'
    ),
    "menu": '<path d="M4 7h16M4 12h16M4 17h16"/>',
    "key": '<circle cx="8" cy="15" r="4"/><path d="M11 12l9-9M16 7l3 3M14 9l2 2"/>',
    "lock": '<rect x="5" y="11" width="14" height="10" rx="2"/><path d="M8 11V8a4 4 0 0 1 8 0v3"/>',
    "logout": '<path d="M15 4h4v16h-4"/><path d="M10 8l-4 4 4 4"/><path d="M6 12h10"/>',
    "group": (
        '<circle cx="12" cy="8" r="3"/><circle cx="5" cy="10" r="2.2"/><circle cx="19" cy="10" '
        'r="2.2"/><path d="M6.5 20c.5-3.3 2.7-5 5.5-5s5 1.7 5.5 5"/><path d="M2 18c.3-2 1.4-3.2 '
        '3-3.5M22 18c-.3-2-1.4-3.2-3-3.5"/>'
    ),
    "user": '<circle cx="12" cy="8" r="4"/><path d="M4 21c1-4.4 4.2-6.5 8-6.5s7 2.1 8 6.5"/>',
    "store": (
        '<path d="M4 9l1.5-5h13L20 9"/><path d="M4 9a2.7 2.7 0 0 0 5.3 0 2.7 2.7 0 0 0 5.4 0'
        'A2.7 2.7 0 0 0 20 9"/><path d="M5.5 11.5V20h13v-8.5"/><path d="M10 20v-5h4v5"/>'
    ),
    "upload": '<path d="M12 16V4M7 9l5-5 5 5"/><path d="M4 16v4h16v-4"/>',
    "download": '<path d="M12 4v12M7 11l5 5 5-5"/><path d="M4 20h16"/>',
    "check": '<path d="M5 12.5l4.5 4.5L19 7.5"/>',
    "check-circle": '<circle cx="12" cy="12" r="9"/><path d="M8 12.5l3 3 5-6"/>',
    "circle": '<circle cx="12" cy="12" r="9"/>',
    "clock": '<circle cx="12" cy="12" r="9"/><path d="M12 7v5l3 2"/>',
    "shield": '<path d="M12 3l8 3v6c0 5-3.5 8-8 9-4.5-1-8-4-8-9V6z"/><path d="M9 12l2 2 4-4"/>',
    "chat": '<path d="M4 5h16v11H9l-5 4z"/><path d="M8 9h8M8 12h5"/>',
    "plus": '<path d="M12 5v14M5 12h14"/>',
    "arrow-right": '<path d="M5 12h14M13 6l6 6-6 6"/>',
    "globe": (
        '<circle cx="12" cy="12" r="9"/><path d="M3 12h18M12 3c2.5 2.5 3.5 5.5 3.5 9s-1 6.5-3.5 9'
        'c-2.5-2.5-3.5-5.5-3.5-9s1-6.5 3.5-9z"/>'
    ),
    "alert": '<path d="M12 3.5l9.5 17h-19z"/><path d="M12 10v4.5M12 17.5v.5"/>',
    "chevron-down": '<path d="M6 9l6 6 6-6"/>',
    "copy": (
        '<rect x="8" y="8" width="12" height="12" rx="2"/>'
        '<path d="M16 8V5a1 1 0 0 0-1-1H5a1 1 0 0 0-1 1v10a1 1 0 0 0 1 1h3"/>'
    ),
    "trash": '<path d="M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13"/>',
    "search": '<circle cx="11" cy="11" r="6.5"/><path d="M16 16l4.5 4.5"/>',
    "smile": (
        '<circle cx="12" cy="12" r="9"/><path d="M8.5 14.5a4.5 4.5 0 0 0 7 0M9 9.5v.5M15 9.5v.5"/>'
    ),
    "flow": (
        '<circle cx="6" cy="6" r="2.5"/><circle cx="18" cy="18" r="2.5"/>'
        '<path d="M8.5 6H15a3 3 0 0 1 0 6H9a3 3 0 0 0 0 6h6.5"/>'
    ),
    "bolt": '<path d="M13 3L5 13.5h6L10 21l8-10.5h-6z"/>',
    "star": '<path d="M12 3.5l2.6 5.3 5.9.9-4.3 4.1 1 5.8-5.2-2.7-5.2 2.7 1-5.8L3.5 9.7l5.9-.9z"/>',
    "bot": (
        '<rect x="4" y="8" width="16" height="11" rx="3"/><path d="M12 4v4M9 13v1M15 13v1"/>'
        '<path d="M2 13v2M22 13v2"/>'
    ),
    "x": '<path d="M6 6l12 12M18 6L6 18"/>',
}


def icon(name: str, cls: str = "icon", label: str | None = None) -> Markup:
    """An inline SVG; decorative unless `label` is given (then screen readers announce it)."""
    paths = ICONS.get(name, ICONS["circle"])
    aria = f'role="img" aria-label="{escape(label)}"' if label else 'aria-hidden="true"'
    return Markup(
        f'<svg class="{escape(cls)}" viewBox="0 0 24 24" fill="none" stroke="currentColor" '
        f'stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" {aria}>{paths}</svg>'
    )
