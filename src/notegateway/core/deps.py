"""Shared FastAPI dependencies."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import Depends

from notegateway.core.db import get_db

# The request's transaction (committed before the answer is sent, rolled back on error).
Db = Annotated[asyncpg.Connection, Depends(get_db, scope="function")]
