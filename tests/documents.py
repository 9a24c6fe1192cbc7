"""GraphQL documents several test modules read: the introspection queries tools send,
and a corpus exercising every part of the executable grammar."""

from __future__ import annotations

from graphql import get_introspection_query

# What GraphiQL, Apollo and codegen tools send: the plain query, with descriptions
# (GraphiQL's), and with every option graphql-core knows.
INTROSPECTION_QUERIES = [
    get_introspection_query(),
    get_introspection_query(descriptions=True),
    get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
        one_of=True,
    ),
]

# Variables with defaults, directives, aliases, inline fragments and spreads, string
# escapes, comments, block strings, several operations, every name character.
GRAMMAR_CORPUS = [
    *INTROSPECTION_QUERIES,
    "{ __typename }",
    'query Q_1($a: [ID!]! = ["x"], $b: Float = -1.5e3) @skip(if: false) {\n'
    '  a_1: node(id: "\\u00e9\\"\\n") { ... on Post { id text } ...F __typename }\n'
    "  b: nodes(ids: $a) { id } # a comment, é and 😀\n"
    '  c: getPosts(token: """block\n  string""") { id }\n'
    "} fragment F on Node { id }",
    'mutation { addPost(text: "x") { postId } } subscription S { a }',
    "{ a0z_Z9 _x __y x y }",
]
