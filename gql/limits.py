"""Query shape limits, built once from settings with Strawberry's own extensions.

The validation rules are built a single time at import: Strawberry's limiters
create a new rule class per instance, and validation results are cached by the
rules tuple, so per-request limiters would never hit the cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from django.conf import settings
from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    validate,
)
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

# Root fields that cost real work each time (bcrypt, or a user's whole post list):
# one of each per document, so aliases cannot multiply them.
ONCE_PER_DOCUMENT = frozenset({"signup", "login", "getPosts"})


def _root_field_names(
    selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], seen: set[str]
) -> Iterator[str]:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection.name.value
        elif isinstance(selection, InlineFragmentNode):
            yield from _root_field_names(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:
                seen.add(name)
                yield from _root_field_names(fragments[name].selection_set, fragments, seen)


class OncePerDocumentRule(ValidationRule):
    """Refuse a document that selects an expensive root field more than once.

    Strawberry ships depth, alias and token limiters but no per-field cost limit,
    hence this small rule.
    """

    def enter_document(self, node: DocumentNode, *_args: object) -> None:
        fragments = {
            d.name.value: d for d in node.definitions if isinstance(d, FragmentDefinitionNode)
        }
        counts: dict[str, int] = {}
        for definition in node.definitions:
            if isinstance(definition, OperationDefinitionNode):
                for name in _root_field_names(definition.selection_set, fragments, set()):
                    counts[name] = counts.get(name, 0) + 1
        for name in sorted(ONCE_PER_DOCUMENT):
            if counts.get(name, 0) > 1:
                self.report_error(
                    GraphQLError(f"'{name}' may be selected at most once per document.")
                )


LIMIT_RULES: tuple[type[ASTValidationRule], ...] = (
    *QueryDepthLimiter(max_depth=settings.GRAPHQL_MAX_DEPTH).validation_rules,
    *MaxAliasesLimiter(max_alias_count=settings.GRAPHQL_MAX_ALIASES).validation_rules,
    OncePerDocumentRule,
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
