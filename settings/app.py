"""Settings from the environment (docs/architecture.md, rule 8).

Temporal's connection comes from Temporal's own environment variables and config
profile (``TEMPORAL_ADDRESS``, ``TEMPORAL_NAMESPACE``, ...), read by
``temporalio.envconfig``; everything else is read here, never passed through
activity inputs, which are visible in history.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_CODEC_KEY_MARKER = "dev-"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    environment: Literal["development", "test", "production"] = Field(
        default="development",
        alias="CASE_ENVIRONMENT",
        description="`production` refuses development codec keys and a missing tokens file",
    )
    database_url: str = Field(
        default="sqlite:///data/cases.db",
        alias="DATABASE_URL",
        description="the case register: `sqlite:///path` or `postgresql://user@host/db`",
    )
    task_queue: str = Field(
        default="cases",
        alias="CASE_TASK_QUEUE",
        description="the Temporal task queue the worker polls and the API starts cases on",
    )
    policy_file: Path | None = Field(
        default=None,
        alias="CASE_POLICY_FILE",
        description="the deadline policy file (unset: the built-in `policy/default.toml`)",
    )
    departments_file: Path | None = Field(
        default=None,
        alias="CASE_DEPARTMENTS_FILE",
        description="department codes, names and optional webhooks (unset: the built-in seven)",
    )
    reports_file: Path | None = Field(
        default=None,
        alias="CASE_REPORTS_FILE",
        description="report run hour and thresholds (unset: the built-in `policy/reports.toml`)",
    )
    crisis_file: Path | None = Field(
        default=None,
        alias="CASE_CRISIS_FILE",
        description="crisis rules and incident clocks (unset: the built-in `policy/crisis.toml`)",
    )
    calendar_overlay_file: Path | None = Field(
        default=None,
        alias="CASE_CALENDAR_OVERLAY_FILE",
        description="the bank's extra holidays and make-up working days, each with its source"
        " (unset: the `holidays` package alone)",
    )
    api_tokens_file: Path | None = Field(
        default=None,
        alias="CASE_API_TOKENS_FILE",
        description='bearer tokens: `[tokens."<token>"]` with `role`, `user`, `department`',
    )
    extra_channels: str = Field(
        default="",
        alias="CASE_EXTRA_CHANNELS",
        description="channels beyond the plan's four, comma separated (R1.1)",
    )
    notify_gateway_url: str | None = Field(
        default=None,
        alias="CASE_NOTIFY_GATEWAY_URL",
        description="the SMS/app notification gateway; unset, customer messages wait in the outbox",
    )
    staff_webhook_url: str | None = Field(
        default=None,
        alias="CASE_STAFF_WEBHOOK_URL",
        description="where staff alerts are posted; unset, they wait in the outbox",
    )
    smtp_host: str | None = Field(
        default=None,
        alias="CASE_SMTP_HOST",
        description="the mail relay for customer e-mail; unset, e-mail waits in the outbox",
    )
    smtp_port: int = Field(default=25, alias="CASE_SMTP_PORT", description="the mail relay's port")
    smtp_sender: str = Field(
        default="service@bank.example",
        alias="CASE_SMTP_SENDER",
        description="the sender address of customer e-mail",
    )
    # "kid:base64key" pairs, comma separated; the first is the one that encrypts.
    codec_keys: str | None = Field(
        default=None,
        alias="CASE_CODEC_KEYS",
        description="payload encryption keys, `kid:base64key,...`; the first encrypts, all decrypt",
    )
    codec_cors_origins: str = Field(
        default="http://localhost:8233",
        alias="CASE_CODEC_CORS_ORIGINS",
        description="origins (the Temporal Web UI) allowed to call the codec endpoints",
    )
    # The worker serves Temporal's SDK metrics (Prometheus text) on this port when set.
    worker_metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        alias="CASE_WORKER_METRICS_PORT",
        description="the port of the worker's SDK metrics (Prometheus); unset, no metrics endpoint",
    )
    worker_metrics_host: str = Field(
        default="127.0.0.1",
        alias="CASE_WORKER_METRICS_HOST",
        description="the address the worker's metrics endpoint listens on",
    )
    # Open cases the worker keeps in memory; past this the least recently used are
    # evicted and replayed from history at their next event (``worker.WorkerSizing``).
    worker_cached_workflows: int | None = Field(
        default=None,
        ge=1,
        alias="CASE_WORKER_CACHED_WORKFLOWS",
        description="open cases the worker keeps in memory (unset: 2,500); each costs memory,"
        " an evicted one is replayed from history at its next event",
    )
    # The SDK's workflow sandbox in the worker (``worker.workflow_runner``): the tests
    # always run the workflows in it; a production worker saves its cost per task.
    worker_sandbox: bool = Field(
        default=False,
        alias="CASE_WORKER_SANDBOX",
        description="run workflow code in the SDK's sandbox (the tests always do); off saves"
        " about a sixth of the worker's CPU per case and most of a cached case's memory",
    )
    # The worker's identity as Temporal records it (default: the SDK's pid@host).
    worker_identity: str | None = Field(
        default=None,
        alias="CASE_WORKER_IDENTITY",
        description="the worker's name in the Web UI's pollers and in history",
    )

    @property
    def channels(self) -> list[str]:
        """The plan's four channels plus any the bank adds by configuration (R1.1)."""
        base = ["counter", "phone", "online_banking", "mobile_banking"]
        extra = [c.strip() for c in self.extra_channels.split(",") if c.strip()]
        return base + [c for c in extra if c not in base]

    @model_validator(mode="after")
    def _no_placeholder_secrets_in_production(self) -> Settings:
        if self.environment == "production":
            if not self.codec_keys:
                raise ValueError("CASE_CODEC_KEYS must be set in production")
            # Only the key IDs are read here (``kid:base64key,...``); the keys themselves
            # are parsed and checked by ``codec.keys``, which sits above this module.
            kids = [part.split(":", 1)[0].strip() for part in self.codec_keys.split(",")]
            if any(kid.startswith(DEV_CODEC_KEY_MARKER) for kid in kids):
                raise ValueError("CASE_CODEC_KEYS holds a development key; set real keys")
            if self.api_tokens_file is None:
                raise ValueError("CASE_API_TOKENS_FILE must be set in production")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
