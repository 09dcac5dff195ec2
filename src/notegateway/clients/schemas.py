"""Who is calling: the authenticated client and its role."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    NZIS = "nzis"
    VENDOR = "vendor"
    NEISPUO = "neispuo"
    OPERATOR = "operator"


@dataclass(frozen=True, slots=True)
class Client:
    id: int
    name: str
    role: Role
    region: str | None = None  # an operator limited to one region (РУО): core/scope.py
