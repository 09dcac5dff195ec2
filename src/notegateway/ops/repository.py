"""SQL for operators' views."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


async def schema_revision(engine: AsyncEngine, limit_seconds: float = 3.0) -> str | None:
    async def query() -> str | None:
        async with engine.connect() as conn:
            result = await conn.execute(text("SELECT version_num FROM alembic_version"))
            value: str | None = result.scalar_one_or_none()
            return value

    return await asyncio.wait_for(query(), limit_seconds)
