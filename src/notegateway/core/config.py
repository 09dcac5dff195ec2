"""Configuration from the environment (NOTEGATEWAY_*)."""

from __future__ import annotations

import ipaddress
from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NOTEGATEWAY_", extra="ignore")

    database_url: str | None = None
    data_dir: Path = Path(".notegateway")
    secret_key: SecretStr | None = None
    trusted_proxies: str = ""
    event_retention_days: int = 92
    # The monthly figures' benefit limits: at least this many unexcused lessons, or more
    # than this many unexcused preschool days, in a month.
    limit_lessons: int = Field(default=5, ge=1)
    limit_days: int = Field(default=3, ge=0)
    # A late arrival weighs this much of an unexcused lesson (NEISPUO's reports: half).
    late_weight: float = Field(default=0.5, ge=0, le=1)
    # Rejected pushed items (invalid, conflict) are kept this long for the helpdesk.
    rejection_retention_days: int = Field(default=30, ge=1)
    # School years kept after each one (ops/retention.py: why 5); older ones are purged.
    retention_school_years: int = Field(default=5, ge=1)
    log_level: str = "INFO"
    pool_size: int = 32
    # The database URL is a PgBouncer in transaction mode: nothing kept in the session.
    pgbouncer: bool = False
    # A direct connection (not through PgBouncer) for LISTEN; default: database_url.
    listen_database_url: str | None = None
    # A statement, or a lock wait, past this: 503 (and the transaction rolled back).
    statement_timeout_ms: int = Field(default=10_000, ge=100)
    # A request body not received within this: 408 (no connection is held meanwhile).
    body_timeout_s: float = Field(default=10.0, gt=0)
    # Requests one client may have in progress in the whole service; beyond: 429. Each
    # live process admits an equal share, or (request_leases) each takes a database lease.
    client_concurrency: int = Field(default=16, ge=1)
    request_leases: bool = False
    # Open long polls one vendor may have in the whole service (leases); beyond: 429.
    vendor_long_polls: int = Field(default=4, ge=1)
    # Requests in progress in one process, all clients together; beyond: 503.
    max_requests: int = Field(default=1000, ge=1)

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"NOTEGATEWAY_SECRET_KEY must have at least {MIN_SECRET_BYTES} bytes")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)  # an entry that is no address or range refuses to start
        return value

    @model_validator(mode="after")
    def _listens_directly(self) -> Settings:
        if self.pgbouncer and not self.listen_database_url:
            raise ValueError(
                "NOTEGATEWAY_PGBOUNCER needs NOTEGATEWAY_LISTEN_DATABASE_URL, a direct "
                "connection for LISTEN (a pooled one is a different session each time)"
            )
        return self

    @cached_property
    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        return parse_networks(self.trusted_proxies)


MIN_SECRET_BYTES = 32
# A trusted proxy range is a proxies' subnet, not the internet: 0.0.0.0/0 or ::/0 (or a
# /7) would let any client name its certificate.
MIN_PROXY_PREFIX = {4: 8, 6: 32}


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """`NOTEGATEWAY_TRUSTED_PROXIES`: comma-separated addresses or CIDR ranges, none with
    host bits set, none wider than MIN_PROXY_PREFIX. An IPv4 address written IPv6-mapped
    (`::ffff:a.b.c.d`) is taken as the IPv4 one, which is how peers are compared."""
    networks: list[IPNetwork] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:  # strict: 10.0.0.1/8 is a typo for a host or a range, not silently widened
            network = ipaddress.ip_network(part, strict=True)
        except ValueError:
            raise ValueError(
                f"not an address or CIDR range (with no host bits set): {part!r}"
            ) from None
        mapped = network.network_address.ipv4_mapped if network.version == 6 else None
        if mapped is not None and network.prefixlen >= 96:
            network = ipaddress.ip_network(f"{mapped}/{network.prefixlen - 96}")
        if network.prefixlen < MIN_PROXY_PREFIX[network.version]:
            raise ValueError(
                f"{part!r} trusts too much of the network: name the TLS proxies' own "
                f"addresses (at most a /{MIN_PROXY_PREFIX[network.version]} range)"
            )
        networks.append(network)
    return tuple(networks)
