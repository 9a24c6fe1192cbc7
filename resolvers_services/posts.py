"""Post use cases: create (within quotas), list (through the per-user cache), page, count,
delete."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC

from django.conf import settings

from persistence.ports import UnitOfWork
from persistence.repositories import PostRow
from resolvers_services.clock import utcnow
from resolvers_services.post_cache import PostsCache
from resolvers_services.transactions import retry_transaction
from schemas.errors import DomainError, ErrorCode
from schemas.ids import POST_TYPE, USER_TYPE, NodeRef
from schemas.post_events import PostEventKind
from schemas.posts import (
    JsonText,
    PostCreateInput,
    PostDeleteInput,
    PostOut,
    PostPage,
    PostPageInput,
    utf8_size,
)
from schemas.users import Principal, UserOut

POST_NOT_FOUND = "Post not found"


def _post_out(row: PostRow) -> PostOut:
    # The database keeps naive UTC; the API shows an explicit zone.
    post_id, raw, created_at = row
    return PostOut.from_row(
        id=post_id, text=JsonText.from_utf8(raw), created_at=created_at.replace(tzinfo=UTC)
    )


def _posts_out(rows: Iterable[PostRow]) -> tuple[PostOut, ...]:
    # One pass: each row's bytes become its JSON literal and are dropped before the next.
    return tuple(_post_out(row) for row in rows)


def _gone() -> DomainError:
    return DomainError(ErrorCode.UNAUTHENTICATED, "Invalid or expired token")


def _quota_exceeded(uow: UnitOfWork, user: Principal, size: int) -> DomainError:
    totals = uow.users.post_totals(user.id)
    if totals is None:
        return _gone()
    count, used = totals
    max_count, max_bytes = settings.POSTS_MAX_PER_USER, settings.POSTS_MAX_BYTES_PER_USER
    if count >= max_count:
        return DomainError(
            ErrorCode.QUOTA_EXCEEDED,
            f"You already have {max_count} posts; delete some to add more",
            extra={"limit": "POSTS_MAX_PER_USER", "maximum": max_count, "current": count},
        )
    return DomainError(
        ErrorCode.QUOTA_EXCEEDED,
        f"This post would take your posts past {max_bytes} bytes; delete some to add more",
        extra={
            "limit": "POSTS_MAX_BYTES_PER_USER",
            "maximum": max_bytes,
            "current": used,
            "requested": size,
        },
    )


def post_create(
    *, uow: UnitOfWork, user: Principal, data: PostCreateInput, posts_cache: PostsCache
) -> PostOut:
    """Store a new post for ``user`` within their quotas and return it."""
    created = _create(uow, user=user, text=data.text, size=utf8_size(data.text))
    posts_cache.discard(user.id)
    return created


@retry_transaction
def _create(uow: UnitOfWork, *, user: Principal, text: str, size: int) -> PostOut:
    with uow:
        # Counting the post first locks the user row before the posts table is
        # touched: concurrent writers for one user queue there (no deadlock on the
        # foreign-key check), cannot overshoot a quota, and every reader keyed by
        # the old posts version misses.
        reserved = uow.users.reserve_post(
            user_id=user.id,
            size=size,
            max_count=settings.POSTS_MAX_PER_USER,
            max_bytes=settings.POSTS_MAX_BYTES_PER_USER,
        )
        if not reserved:
            raise _quota_exceeded(uow, user, size)
        created_at = utcnow()
        post_id = uow.posts.add(user_id=user.id, text=text, created_at=created_at)
        # The outbox row, last before the commit (subscribers: resolvers_services/post_events.py).
        uow.post_events.add(
            user_id=user.id,
            kind=PostEventKind.ADDED,
            post_id=post_id,
            post_created_at=created_at,
            created_at=created_at,
        )
        uow.commit()
    return PostOut.from_row(id=post_id, text=text, created_at=created_at.replace(tzinfo=UTC))


def post_list(*, uow: UnitOfWork, user: Principal, posts_cache: PostsCache) -> tuple[PostOut, ...]:
    """Every post of ``user``, newest first, from the cache when it is current."""
    cached = posts_cache.get(user.id, user.posts_version)
    if cached is not None:
        return cached
    posts = _list(uow, user_id=user.id)
    posts_cache.put(user.id, user.posts_version, posts)
    return posts


@retry_transaction
def _list(uow: UnitOfWork, *, user_id: int) -> tuple[PostOut, ...]:
    with uow:  # reads only
        return _posts_out(uow.posts.list_for_user(user_id))


def post_page(*, uow: UnitOfWork, user: Principal, data: PostPageInput) -> PostPage:
    """One page of ``user``'s posts, newest first, between keyset cursors.

    One indexed query: it asks for one post more than the page holds, to know
    whether there is a further page in the direction of travel. Whether there
    is one the other way is reported only when it costs nothing (the Relay
    specification allows false there).
    """
    size = data.size
    backward = data.last is not None
    posts = _page(uow, user_id=user.id, data=data, limit=size + 1, backward=backward)
    more = len(posts) > size
    if more:
        posts = posts[:size]
    if backward:  # fetched nearest `before` first, that is oldest first
        posts = posts[::-1]
    return PostPage(
        posts=posts, has_next_page=more and not backward, has_previous_page=more and backward
    )


@retry_transaction
def _page(
    uow: UnitOfWork, *, user_id: int, data: PostPageInput, limit: int, backward: bool
) -> tuple[PostOut, ...]:
    with uow:  # reads only
        return _posts_out(
            uow.posts.page_for_user(
                user_id, limit=limit, after=data.after, before=data.before, backward=backward
            )
        )


def post_count(*, uow: UnitOfWork, user: Principal, after_write: bool = False) -> int:
    """How many posts ``user`` has: the running total read with the caller, or, with
    ``after_write`` (this request has added or deleted one since), read again.

    Either is the count on the user's row that the quotas keep, not a COUNT(*).
    """
    if not after_write:
        return user.posts_count
    return _count(uow, user_id=user.id)


@retry_transaction
def _count(uow: UnitOfWork, *, user_id: int) -> int:
    with uow:  # reads only
        totals = uow.users.post_totals(user_id)
    if totals is None:  # the account was deleted meanwhile
        raise _gone()
    return totals[0]


def post_delete(
    *, uow: UnitOfWork, user: Principal, data: PostDeleteInput, posts_cache: PostsCache
) -> int:
    """Delete one of ``user``'s own posts; NOT_FOUND if there is no such post of theirs."""
    if data.post.type_name != POST_TYPE:  # a user's id, say: never one of their posts
        raise DomainError(ErrorCode.NOT_FOUND, POST_NOT_FOUND, fields={"postId": "not found"})
    _delete(uow, user=user, post_id=data.post.key)
    posts_cache.discard(user.id)
    return data.post.key


@retry_transaction
def _delete(uow: UnitOfWork, *, user: Principal, post_id: int) -> None:
    with uow:
        if not uow.users.release_post(user_id=user.id, post_id=post_id):
            raise _gone()
        uow.post_events.keep_text(post_id=post_id)
        if not uow.posts.delete(post_id=post_id, user_id=user.id):
            # Leaving without a commit rolls the version bump back: nothing changed.
            raise DomainError(ErrorCode.NOT_FOUND, POST_NOT_FOUND, fields={"postId": "not found"})
        uow.post_events.add(
            user_id=user.id,
            kind=PostEventKind.DELETED,
            post_id=post_id,
            post_created_at=None,
            created_at=utcnow(),
        )
        uow.commit()


@retry_transaction
def _get_many(uow: UnitOfWork, *, user_id: int, post_ids: list[int]) -> tuple[PostOut, ...]:
    with uow:  # reads only
        return _posts_out(uow.posts.get_many(user_id, post_ids))


def node_lookup(
    *, uow: UnitOfWork, user: Principal, refs: Sequence[NodeRef]
) -> list[UserOut | PostOut | None]:
    """What each reference names, if it is ``user`` or one of their posts; else None.

    Someone else's objects and objects that do not exist are alike: None.
    """
    post_ids = [ref.key for ref in refs if ref.type_name == POST_TYPE]
    found: dict[int, PostOut] = {}
    if post_ids:
        found = {post.id: post for post in _get_many(uow, user_id=user.id, post_ids=post_ids)}
    me = UserOut(id=user.id, email=user.email)
    resolved: list[UserOut | PostOut | None] = []
    for ref in refs:
        if ref.type_name == USER_TYPE:
            resolved.append(me if ref.key == user.id else None)
        elif ref.type_name == POST_TYPE:
            resolved.append(found.get(ref.key))
        else:
            resolved.append(None)
    return resolved
