"""Role-based access over every route of the app.

(a) Every route, found by walking the app (so routes other features add are covered the day
    they appear), refuses an anonymous caller: 401 problem+json under /api, a redirect to
    /login for pages, a refused handshake for WebSockets. Only the routes in PUBLIC below may
    answer strangers. Adding a public route is a decision: add it here, with the reason.
(b) A table of role × representative route → expected status.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, WebSocket
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

from tests.fixtures.factories import LoginAs

# Exact paths anyone may call.
PUBLIC_PATHS = {
    "/login": "the sign-in form",
    "/healthz": "liveness probe for load balancers",
    "/readyz": "readiness probe for load balancers",
    "/api/openapi.json": "API description (no data)",
    "/api/docs": "API documentation page (no data)",
    "/widget.js": "the loader script a shop embeds on its website",
}
# Path prefixes anyone may call (a prefix matches itself and everything below "/").
PUBLIC_PREFIXES = {
    "/static": "CSS, JS, vendored libraries",
    "/chat": "the customer's H5 chat page",
    "/widget": "the embeddable chat widget for the shop's website",
    "/api/v1/widget": "the widget's API; customers are verified by the shop's signed identity",
    "/help": "a store's public help center: enabled FAQ answers only (kefu/knowledge/pages.py)",
    "/t": "a customer's ticket status page; opens only with a signed, expiring token",
}
# Shops push orders and events here; each request is verified by the store's HMAC signature.
PUBLIC_PATTERNS = {
    re.compile(r"^/api/v1/stores/\{[^}]+\}/webhooks(/.*)?$"): "store webhooks (HMAC-signed)",
}


def is_public(path: str) -> bool:
    if path in PUBLIC_PATHS:
        return True
    if any(path == p or path.startswith(p + "/") for p in PUBLIC_PREFIXES):
        return True
    return any(pattern.match(path) for pattern in PUBLIC_PATTERNS)


def concrete(path: str) -> str:
    """A callable URL for a route template: every {param} becomes 1."""
    return re.sub(r"\{[^}]+\}", "1", path)


def all_routes(app: FastAPI) -> list[tuple[str, str, str]]:
    """(kind, method, path) for every route, including routers nested in routers."""
    found: list[tuple[str, str, str]] = []
    for context in iter_route_contexts(app.routes):
        route: Any = context.route
        path = str(context.path)
        if isinstance(route, Mount):
            found.append(("mount", "GET", path))
        elif context.methods is None:
            found.append(("websocket", "WS", path))
        else:
            found.extend(("http", m, path) for m in sorted(context.methods) if m != "HEAD")
    return found


def test_route_walk_sees_nested_routers(app: FastAPI) -> None:
    paths = {path for _, _, path in all_routes(app)}
    # Routes from several included routers, so the walk cannot silently come back empty.
    assert {"/", "/login", "/api/v1/me", "/api/v1/tokens", "/settings/users"} <= paths


def test_allow_list_is_small() -> None:
    assert len(PUBLIC_PATHS) + len(PUBLIC_PREFIXES) + len(PUBLIC_PATTERNS) <= 14


async def anonymous_failures(app: FastAPI, client: httpx.AsyncClient) -> tuple[int, list[str]]:
    """Call every non-public route without credentials; list those that do not refuse."""
    failures: list[str] = []
    checked = 0
    for kind, method, path in all_routes(app):
        if is_public(path):
            continue
        if kind == "mount":
            failures.append(
                f"mount {path}: mounted apps are not checked; make it public or a route"
            )
            continue
        if kind == "websocket":
            verdict = await _anonymous_websocket(app, concrete(path))
            if verdict != "refused":
                failures.append(f"WS {path}: {verdict}")
            checked += 1
            continue
        url = concrete(path)
        headers = {"accept": "text/html"} if not path.startswith("/api/") else {}
        response = await client.request(method, url, headers=headers)
        checked += 1
        if path.startswith("/api/"):
            if response.status_code != 401:
                failures.append(f"{method} {path}: {response.status_code}, expected 401")
        elif response.status_code != 303 or not response.headers.get("location", "").startswith(
            "/login"
        ):
            failures.append(
                f"{method} {path}: {response.status_code} "
                f"{response.headers.get('location', '')}, expected 303 to /login"
            )
    return checked, failures


async def test_every_non_public_route_refuses_anonymous_callers(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    checked, failures = await anonymous_failures(app, client)
    assert checked > 20
    assert not failures, "routes open to anonymous callers:\n" + "\n".join(failures)


async def test_the_check_catches_a_forgotten_permission(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async def leaky() -> dict[str, str]:
        return {"secret": "yes"}

    async def leaky_socket(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json({"secret": "yes"})
        await websocket.close()

    app.add_api_route("/api/v1/leaky", leaky)
    app.add_api_route("/leaky-page", leaky, methods=["POST"])
    app.add_api_websocket_route("/api/v1/leaky-ws", leaky_socket)
    _, failures = await anonymous_failures(app, client)
    flagged = " ".join(failures)
    assert "GET /api/v1/leaky:" in flagged
    assert "POST /leaky-page:" in flagged
    assert "WS /api/v1/leaky-ws:" in flagged


async def _anonymous_websocket(app: FastAPI, path: str) -> str:
    """Drive the ASGI app with a WebSocket handshake that carries no cookie and no token."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: list[dict[str, Any]] = []
    answered = asyncio.Event()
    await inbox.put({"type": "websocket.connect"})

    async def receive() -> dict[str, Any]:
        return await inbox.get()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "websocket.accept":
            return
        answered.set()  # data, a close or a denial: enough to judge
        if message["type"] == "websocket.send":
            return
        # Closed or denied: let the app finish.
        await inbox.put({"type": "websocket.disconnect", "code": 1000})

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "ws",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 50000),
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "subprotocols": [],
        "state": {},
        "app": app,
    }
    task = asyncio.ensure_future(app(scope, receive, send))  # type: ignore[arg-type]
    try:
        # A refusal is immediate; an app that accepts and waits for credentials would hang.
        await asyncio.wait_for(answered.wait(), timeout=10)
    except TimeoutError:
        task.cancel()
        return f"no answer; messages {[m['type'] for m in sent]}"
    finally:
        await inbox.put({"type": "websocket.disconnect", "code": 1000})
        try:
            await asyncio.wait_for(task, timeout=10)
        except (TimeoutError, asyncio.CancelledError, Exception):
            task.cancel()
    kinds = [m["type"] for m in sent]
    if "websocket.http.response.start" in kinds:
        return "refused"  # denied during the handshake
    closes = [m for m in sent if m["type"] == "websocket.close"]
    if closes and "websocket.accept" not in kinds:
        return "refused"
    # Accepting only to explain the refusal is fine, if the close says so: 1008 (policy
    # violation) or an application code 4000-4999 (e.g. 4401 unauthorised).
    code = closes[0].get("code", 1000) if closes else None
    if code is not None and (code == 1008 or 4000 <= code <= 4999):
        return "refused"
    return f"accepted anonymously: {kinds}"


# (b) role × representative route → expected status (200 allowed, 403 refused).
OK, NO = 200, 403
MATRIX: list[tuple[str, str, dict[str, int]]] = [
    # method, path, {role: status}
    ("GET", "/", {"admin": OK, "supervisor": OK, "agent": OK, "qa": OK}),
    ("GET", "/settings", {"admin": OK, "supervisor": OK, "agent": OK, "qa": OK}),
    ("GET", "/settings/password", {"admin": OK, "supervisor": OK, "agent": OK, "qa": OK}),
    ("GET", "/settings/tokens", {"admin": OK, "supervisor": OK, "agent": OK, "qa": OK}),
    ("GET", "/tickets", {"admin": OK, "supervisor": OK, "agent": OK, "qa": OK}),
    ("GET", "/knowledge", {"admin": OK, "supervisor": OK, "agent": OK, "qa": OK}),
    ("GET", "/reports", {"admin": OK, "supervisor": OK, "agent": NO, "qa": OK}),
    ("GET", "/settings/users", {"admin": OK, "supervisor": NO, "agent": NO, "qa": NO}),
    ("GET", "/settings/users/new", {"admin": OK, "supervisor": NO, "agent": NO, "qa": NO}),
    ("GET", "/settings/groups", {"admin": OK, "supervisor": OK, "agent": NO, "qa": NO}),
    ("GET", "/settings/groups/new", {"admin": OK, "supervisor": OK, "agent": NO, "qa": NO}),
    ("GET", "/api/v1/me", {"admin": OK, "supervisor": OK, "agent": OK, "qa": OK}),
    ("GET", "/api/v1/users", {"admin": OK, "supervisor": NO, "agent": NO, "qa": NO}),
    ("GET", "/api/v1/groups", {"admin": OK, "supervisor": OK, "agent": OK, "qa": OK}),
    ("GET", "/api/v1/tokens", {"admin": OK, "supervisor": OK, "agent": OK, "qa": OK}),
    ("GET", "/api/v1/tokens?all=true", {"admin": OK, "supervisor": NO, "agent": NO, "qa": NO}),
]
ROLES = ("admin", "supervisor", "agent", "qa")


@pytest.mark.parametrize("role", ROLES)
async def test_role_matrix(role: str, login_as: LoginAs) -> None:
    client = await login_as(role)
    wrong = []
    for method, path, expected in MATRIX:
        headers = {"accept": "text/html"} if not path.startswith("/api/") else {}
        response = await client.request(method, path, headers=headers)
        if response.status_code != expected[role]:
            wrong.append(f"{method} {path}: {response.status_code}, expected {expected[role]}")
    assert not wrong, f"{role}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("role", ROLES)
async def test_role_matrix_for_writes(role: str, login_as: LoginAs) -> None:
    """Writes a role may not make are refused before any input is looked at."""
    client = await login_as(role)
    group = await client.post("/api/v1/groups", json={"code": f"g-{role}", "name": f"组 {role}"})
    assert group.status_code == (201 if role in ("admin", "supervisor") else 403)
    user = await client.post(
        "/api/v1/users",
        json={"username": f"new-{role}", "display_name": "新人", "password": "long-password"},
    )
    assert user.status_code == (201 if role == "admin" else 403)
