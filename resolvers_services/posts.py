"""Post use cases: create, list (through the per-user cache) and delete."""

from __future__ import annotations

from datetime import UTC

from persistence.models import Post
from persistence.uow import UnitOfWork
from resolvers_services.clock import utcnow
from resolvers_services.post_cache import get_posts_cache
from resolvers_services.transactions import run_in_transaction
from schemas.errors import DomainError, ErrorCode
from schemas.posts import PostCreateInput, PostDeleteInput, PostOut
from schemas.users import Principal

POST_NOT_FOUND = "Post not found"


def _post_out(post: Post) -> PostOut:
    # The database keeps naive UTC; the API shows an explicit zone.
    return PostOut(id=post.id, text=post.text, created_at=post.created_at.replace(tzinfo=UTC))


def _mark_changed(uow: UnitOfWork, user: Principal) -> None:
    # Bump the version first: it locks the user row before the posts table is touched,
    # so concurrent writers for one user queue here instead of deadlocking on the
    # foreign-key check, and every reader keyed by the old version misses.
    if not uow.users.bump_posts_version(user.id):
        raise DomainError(ErrorCode.UNAUTHENTICATED, "Invalid or expired token")


def post_create(*, uow: UnitOfWork, user: Principal, data: PostCreateInput) -> PostOut:
    """Store a new post for ``user`` and return it."""

    def create(uow: UnitOfWork) -> PostOut:
        _mark_changed(uow, user)
        post = uow.posts.add(user_id=user.id, text=data.text, created_at=utcnow())
        uow.commit()
        return _post_out(post)

    created = run_in_transaction(uow, create)
    get_posts_cache().discard(user.id)
    return created


def post_list(*, uow: UnitOfWork, user: Principal) -> tuple[PostOut, ...]:
    """Every post of ``user``, newest first, from the cache when it is current."""
    cache = get_posts_cache()
    cached = cache.get(user.id, user.posts_version)
    if cached is not None:
        return cached
    posts = run_in_transaction(
        uow, lambda uow: tuple(_post_out(p) for p in uow.posts.list_for_user(user.id))
    )
    cache.put(user.id, user.posts_version, posts)
    return posts


def post_delete(*, uow: UnitOfWork, user: Principal, data: PostDeleteInput) -> int:
    """Delete one of ``user``'s own posts; NOT_FOUND if there is no such post of theirs."""

    def delete(uow: UnitOfWork) -> int:
        _mark_changed(uow, user)
        if not uow.posts.delete(post_id=data.post_id, user_id=user.id):
            raise DomainError(ErrorCode.NOT_FOUND, POST_NOT_FOUND, fields={"postId": "not found"})
        uow.commit()
        return data.post_id

    deleted = run_in_transaction(uow, delete)
    get_posts_cache().discard(user.id)
    return deleted
