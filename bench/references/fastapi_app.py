"""The FastAPI reference, as a minimal service doing getPosts' work would be written:
verify the HS256 JWT (PyJWT), look the user's posts up in a cachetools TTLCache,
return them as JSON (FastAPI serialises the returned dict). Served by uvicorn
with as many worker processes as the app has (bench/references/fastapi_serve.py:
``uvicorn --workers N`` with TCP_NODELAY on).
"""

from __future__ import annotations

import json
from typing import Any

from cachetools import TTLCache
from fastapi import FastAPI, Header
from fastapi.responses import JSONResponse

from bench.references.common import (
    CACHE_MAX_ENTRIES,
    CACHE_TTL_SECONDS,
    UNAUTHENTICATED,
    answers,
    subject,
)

CACHE: TTLCache[str, list[dict[str, Any]]] = TTLCache(
    maxsize=CACHE_MAX_ENTRIES, ttl=CACHE_TTL_SECONDS
)
CACHE.update({sub: json.loads(text)["data"]["getPosts"] for sub, text in answers().items()})

app = FastAPI()


@app.post("/graphql", response_model=None)
async def graphql(authorization: str | None = Header(default=None)) -> Any:
    sub = subject(authorization)
    posts = CACHE.get(sub) if sub is not None else None
    if posts is None:
        return JSONResponse(UNAUTHENTICATED)
    return {"data": {"getPosts": posts}}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
