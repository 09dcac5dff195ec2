"""Shared FastAPI dependencies."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncConnection

from notegateway.core.db import get_connection, raw_connection


async def _raw(conn: Annotated[AsyncConnection, Depends(get_connection, scope="function")]) -> asyncpg.Connection:
    return await raw_connection(conn)


# The request's transaction, as the asyncpg connection (committed before the answer is sent).
Db = Annotated[asyncpg.Connection, Depends(_raw, scope="function")]
