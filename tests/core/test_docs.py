"""The repository documents itself: the exchange contract under docs/, served at
/docs/contract and linked from /docs and the README, word for word the contract the other
systems hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories import Api

ROOT = Path(__file__).resolve().parents[2]
OURS = ROOT / "docs" / "contract.md"
SHARED = ROOT.parent / "shared" / "API.md"


def test_the_contract_under_docs_is_the_shared_one_word_for_word() -> None:
    if not SHARED.is_file():
        pytest.skip("no ../shared/API.md beside this checkout")
    assert SHARED.read_text(encoding="utf-8").strip() in OURS.read_text(encoding="utf-8")


async def test_the_contract_is_served_and_linked(api: Api) -> None:
    served = await api.http.get("/docs/contract")
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("text/markdown")
    assert served.text == OURS.read_text(encoding="utf-8")
    description = (await api.http.get("/openapi.json")).json()["info"]["description"]
    assert "/docs/contract" in description  # shown at the top of /docs
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/contract.md" in readme
    assert "../shared" not in readme  # a clone has no such folder
