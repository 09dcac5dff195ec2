"""Configuration from the environment (NOTEGATEWAY_*)."""

from __future__ import annotations

import ipaddress
from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NOTEGATEWAY_", extra="ignore")

    database_url: str | None = None
    data_dir: Path = Path(".notegateway")
    secret_key: SecretStr | None = None
    trusted_proxies: str = ""
    event_retention_days: int = 92
    log_level: str = "INFO"
    pool_size: int = 32
    # A statement, or a lock wait, past this: 503 (and the transaction rolled back).
    statement_timeout_ms: int = Field(default=10_000, ge=100)
    # A request body not received within this: 408 (no connection is held meanwhile).
    body_timeout_s: float = Field(default=10.0, gt=0)
    # Requests one client may have in progress (per process); beyond: 429.
    client_concurrency: int = Field(default=16, ge=1)
    # Open long polls one vendor may have (per process); beyond: 429.
    vendor_long_polls: int = Field(default=4, ge=1)

    @cached_property
    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        """`NOTEGATEWAY_TRUSTED_PROXIES`: comma-separated addresses or CIDR ranges."""
        return tuple(
            ipaddress.ip_network(part.strip(), strict=False)
            for part in self.trusted_proxies.split(",")
            if part.strip()
        )
