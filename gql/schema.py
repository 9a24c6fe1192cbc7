"""The schema, assembled from the domain modules (accounts, posts, relay); nothing else lives here."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext

from gql.accounts import AccountMutations, AccountQueries
from gql.extensions import UsePreparedDocument, tracing_extensions
from gql.post_events import Subscription
from gql.posts import PostMutations, PostQueries
from gql.relay import RelayQueries


@strawberry.type(description="Read operations.")
class Query(PostQueries, AccountQueries, RelayQueries):
    pass


@strawberry.type(description="Write operations.")
class Mutation(AccountMutations, PostMutations):
    pass


class Schema(strawberry.Schema):
    """The schema, without Strawberry's error log (it prints documents, which may hold passwords)."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # gql.errors.shape_error logs the unexpected ones, with their tracebacks.
        return None


schema = Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    extensions=[UsePreparedDocument, *tracing_extensions()],
)
