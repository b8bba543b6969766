"""Settings from `KEFU_*` environment variables and an optional `kefu.toml`.

Every timer, threshold and target the domain guide names is a setting here or on a store,
with the documented value as default.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KEFU_", env_file=None, toml_file="kefu.toml", extra="ignore"
    )

    database_url: str = "sqlite+aiosqlite:///./kefu.db"
    redis_url: str | None = None
    secret_key: SecretStr = Field(
        default=SecretStr("dev-insecure-change-me"),
        description="Signs session cookies, CSRF tokens and links; set it in production.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str = "http://127.0.0.1:8000"
    environment: Literal["development", "production", "test"] = "development"
    default_locale: str = "zh_CN"
    default_timezone: str = "Asia/Shanghai"
    log_level: str = "INFO"
    log_json: bool = False
    # Freeze long-lived objects out of the garbage collector's full passes (kefu.core.gcpolicy):
    # short pauses for a server; the test suite, which starts hundreds of apps, turns it off.
    gc_freeze: bool = True

    session_max_age_s: int = 12 * 3600
    cookie_secure: bool = False
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    login_rate_per_minute: int = 20

    # Outgoing mail (offline-message transcripts, CSAT links, notifications); off when unset.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_use_tls: bool = False
    mail_from: str = "Kefu 客服 <kefu@localhost>"

    # Optional LLM rephrasing of the bot's KB answers (OpenAI-compatible endpoint); off when unset.
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str = "qwen-plus"
    llm_timeout_s: float = 4.0

    upload_max_bytes: int = 10 * 1024 * 1024
    # Uploaded files (after-sales photos); served only through permission-checked routes.
    media_dir: str = "./media"
    import_batch_max: int = 1000

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
