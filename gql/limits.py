"""Query shape limits, built once from settings with Strawberry's own extensions.

The validation rules are built a single time at import: Strawberry's limiters
create a new rule class per instance, and validation results are cached by the
rules tuple, so per-request limiters would never hit the cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from django.conf import settings
from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, validate
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

LIMIT_RULES: tuple[type[ASTValidationRule], ...] = (
    *QueryDepthLimiter(max_depth=settings.GRAPHQL_MAX_DEPTH).validation_rules,
    *MaxAliasesLimiter(max_alias_count=settings.GRAPHQL_MAX_ALIASES).validation_rules,
)
# What Strawberry's own validate_document appends to every rule set.
_STRAWBERRY_RULES = (MaybeNullValidationRule, OneOfInputValidationRule)


@lru_cache(maxsize=256)
def _validate(
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: tuple[type[ASTValidationRule], ...],
    hide_suggestions: bool,
) -> list[GraphQLError]:
    return validate(schema, document, rules, hide_suggestions=hide_suggestions)


class Validation(SchemaExtension):
    """Validate with the limit rules, introspection per settings, and a shared cache.

    Used instead of Strawberry's ValidationCache + DisableIntrospection because
    those cannot hide graphql-core's "Did you mean ...?" suggestions, which leak
    the schema when introspection is off (OWASP GraphQL cheat sheet).
    """

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        explorer = bool(settings.GRAPHQL_EXPLORER)
        rules = (*context.validation_rules, *LIMIT_RULES, *_STRAWBERRY_RULES)
        if not explorer:
            rules = (*rules, NoSchemaIntrospectionCustomRule)
        if context.graphql_document is None:  # parsing failed; nothing to validate
            yield
            return
        context.pre_execution_errors = _validate(
            context.schema._schema, context.graphql_document, rules, not explorer
        )
        yield


def _max_tokens() -> MaxTokensLimiter:
    return MaxTokensLimiter(max_token_count=settings.GRAPHQL_MAX_TOKENS)


def _parser_cache() -> ParserCache:
    return ParserCache(maxsize=256)


QUERY_LIMIT_EXTENSIONS = (_max_tokens, _parser_cache, Validation)
