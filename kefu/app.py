"""create_app(): settings, database, event bus, jobs, middleware, routes and static files."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.middleware.sessions import SessionMiddleware

from kefu.core import events, gcpolicy, jobs, mail
from kefu.core.config import Settings, get_settings
from kefu.core.db import Database
from kefu.core.errors import Unauthorized, install_error_handlers, problem
from kefu.core.i18n import current_locale, negotiate
from kefu.core.logging import configure_logging


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get(
        "accept", ""
    )


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import kefu.models  # noqa: F401 - register every table
        from kefu.worker import load_task_modules

        load_task_modules()  # register every domain's jobs and sweeps

        owns_db = getattr(app.state, "db", None) is None
        if owns_db:
            app.state.db = Database(settings.database_url)
        if settings.redis_url:
            events.set_bus(events.RedisEventBus(settings.redis_url))
            jobs.set_runner(jobs.RedisJobRunner(settings.redis_url))
        else:
            events.set_bus(events.InProcessEventBus())
        # Jobs open sessions on this app's database (tests run several apps in one process).
        jobs.use_job_sessionmaker(app.state.db.sessionmaker)
        mail.configure_mail(mail.from_settings(settings))
        runner = jobs.get_runner()
        await runner.start()
        if settings.gc_freeze:
            gcpolicy.install()  # short collector pauses under load (see the module)
        try:
            yield
        finally:
            await runner.stop()
            limiter = getattr(app.state, "login_limiter", None)
            if limiter is not None:
                await limiter.close()
            from kefu.accounts.ratelimit import close_app_limiters

            await close_app_limiters(app)
            await events.drain()
            await events.get_bus().close()
            if owns_db:
                await app.state.db.dispose()

    app = FastAPI(
        title="Kefu 客服",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    if database is not None:
        app.state.db = database
    install_error_handlers(app)

    @app.exception_handler(Unauthorized)
    async def _login_redirect(request: Request, exc: Unauthorized) -> Response:
        if _wants_html(request):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        return problem(request, exc.status, exc.code, exc.zh, exc.en)

    from kefu.web.errors import install_html_errors

    install_html_errors(app)

    @app.middleware("http")
    async def locale_and_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        locale = negotiate(
            request.headers.get("accept-language"), request.cookies.get("kefu_locale")
        )
        token = current_locale.set(locale)
        try:
            response = await call_next(request)
        finally:
            current_locale.reset(token)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key.get_secret_value(),
        session_cookie="kefu_session",
        max_age=settings.session_max_age_s,
        same_site="lax",
        https_only=settings.cookie_secure,
    )

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        try:
            async with request.app.state.db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return problem(request, 503, "not_ready", "数据库不可用", "Database unavailable")
        return JSONResponse({"status": "ready"})

    from kefu.api import router as api_router
    from kefu.pages import router as pages_router
    from kefu.web.templating import STATIC_DIR

    app.include_router(api_router)
    app.include_router(pages_router)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    return app
