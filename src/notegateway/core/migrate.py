"""Running alembic from code, wherever the package is installed."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory


def migrations_dir() -> Path:
    """`migrations/` of a source checkout, or the copy packed into the wheel."""
    package_dir = Path(__file__).resolve().parent.parent
    for candidate in (package_dir / "_migrations", package_dir.parent.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise RuntimeError("the migrations directory is missing from this installation")


def alembic_config(database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if database_url is not None:
        config.attributes["database_url"] = database_url
    return config


@cache
def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def upgrade(database_url: str) -> None:
    """Bring the database at `database_url` to the newest migration (blocking)."""
    command.upgrade(alembic_config(database_url), "head")
