"""`/docs/contract`: the exchange contract as the project keeps it (docs/contract.md),
served as plain text so that every client of the API can read it from the gateway."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

_PACKAGE = Path(__file__).resolve().parent.parent


def contract_path() -> Path | None:
    """docs/contract.md in an installed wheel (_docs) or in a checkout."""
    for candidate in (
        _PACKAGE / "_docs" / "contract.md",
        _PACKAGE.parent.parent / "docs" / "contract.md",
    ):
        if candidate.is_file():
            return candidate
    return None


def install_contract(app: FastAPI) -> None:
    found = contract_path()
    text = found.read_text(encoding="utf-8") if found else "docs/contract.md is not installed\n"

    @app.get("/docs/contract", include_in_schema=False)
    async def contract() -> PlainTextResponse:
        return PlainTextResponse(
            text, status_code=200 if found else 404, media_type="text/markdown; charset=utf-8"
        )
