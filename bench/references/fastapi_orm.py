"""The typical FastAPI peer: the shape most public FastAPI services ship (FastAPI's
own SQL tutorial, full-stack-fastapi-template), on the app's own database.

- ``POST /graphql`` answers getPosts' cache hit as the lean reference does, but
  first loads the caller through a SQLAlchemy ORM session, one per request (a
  ``Depends`` that opens and closes it), as an authenticated endpoint of such a
  service does;
- ``POST /posts`` is the write peer of addPost: the caller loaded the same way,
  the post validated by a pydantic model, added through the session, committed
  and refreshed (``db.add``, ``db.commit``, ``db.refresh``), returned as JSON.

Synchronous endpoints (run on Starlette's thread pool), SQLAlchemy's default
pool. Served by uvicorn[standard] with the app's number of workers
(bench/references/fastapi_serve.py), with ``DATABASE_URL`` the app's.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from cachetools import TTLCache
from fastapi import Depends, FastAPI, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import ForeignKey, String, Text, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from bench.references.common import (
    CACHE_MAX_ENTRIES,
    CACHE_TTL_SECONDS,
    UNAUTHENTICATED,
    answers,
    subject,
)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))


class Post(Base):
    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


engine = create_engine(os.environ["DATABASE_URL"])
SessionLocal = sessionmaker(engine)

CACHE: TTLCache[str, list[dict[str, Any]]] = TTLCache(
    maxsize=CACHE_MAX_ENTRIES, ttl=CACHE_TTL_SECONDS
)
CACHE.update({sub: json.loads(text)["data"]["getPosts"] for sub, text in answers().items()})

app = FastAPI()


def get_db() -> Iterator[Session]:
    with SessionLocal() as session:
        yield session


Db = Annotated[Session, Depends(get_db)]


def current_user(db: Session, authorization: str | None) -> User | None:
    sub = subject(authorization)
    return db.get(User, int(sub)) if sub is not None and sub.isdigit() else None


@app.post("/graphql", response_model=None)
def get_posts(db: Db, authorization: str | None = Header(default=None)) -> Any:
    user = current_user(db, authorization)
    posts = CACHE.get(str(user.id)) if user is not None else None
    if posts is None:
        return JSONResponse(UNAUTHENTICATED)
    return {"data": {"getPosts": posts}}


class NewPost(BaseModel):
    text: str = Field(min_length=1, max_length=1024 * 1024)


class AddPostBody(BaseModel):
    """The body the benchmark sends addPost's peer: the GraphQL request's variables."""

    variables: NewPost


def _global_id(type_name: str, key: int) -> str:
    return base64.b64encode(f"{type_name}:{key}".encode()).decode()


@app.post("/posts", response_model=None)
def add_post(body: AddPostBody, db: Db, authorization: str | None = Header(default=None)) -> Any:
    user = current_user(db, authorization)
    if user is None:
        return JSONResponse(UNAUTHENTICATED)
    post = Post(
        user_id=user.id, text=body.variables.text, created_at=datetime.now(UTC).replace(tzinfo=None)
    )
    db.add(post)
    db.commit()
    db.refresh(post)
    post_id = _global_id("Post", post.id)
    shown = {"id": post_id, "text": post.text, "createdAt": f"{post.created_at.isoformat()}+00:00"}
    return {"data": {"addPost": {"postId": post_id, "post": shown}}}


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
