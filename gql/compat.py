"""The one place that reaches past Strawberry's public API (tests/unit/test_compat.py
pins each reliance, so an upgrade that moves one fails there, loudly).

- ``strawberry.Schema._schema``: the graphql-core schema Strawberry built. The
  pipeline validates a document once, with graphql-core's public ``validate``
  and the rules Strawberry adds (its own ValidationCache extension reads the
  same attribute), before it hands the document to ``Schema.execute_sync``.
"""

from __future__ import annotations

import strawberry
from graphql import GraphQLSchema


def core_schema(schema: strawberry.Schema) -> GraphQLSchema:
    """The graphql-core schema behind a Strawberry schema."""
    core: GraphQLSchema = schema._schema
    return core
