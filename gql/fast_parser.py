"""A fast parser for the executable documents that pass the caps, building the very
AST graphql-core's parser builds (``no_location=True``, ``allow_empty_selection_sets=
False``); anything else is left to graphql-core's parser (``gql.compat.parse_document``).

Why a parser of our own: parsing is the dearest step of a document the pipeline has
not seen, and a hostile client can send a new one every time. graphql-core's lexer and
parser are pure Python, a few calls per character and a dozen per token: 4 ms for the
900 tokens of 50 fragments, six times a whole getPosts. No maintained Python library
parses GraphQL faster into graphql-core's AST, which validation and execution read.

How: one regular expression splits the whole text into its tokens in C (``findall``),
and a recursive-descent parser over that list of strings builds the nodes, filling
their ``__dict__`` directly (graphql-core's nodes are frozen dataclasses; their
``__init__`` costs three times as much). About four times faster on the documents
that cost most.

What it does not do, it refuses with ``Unparsed`` and graphql-core parses the text,
so every syntax error (its message and position), the token cap's error and anything
beyond executable definitions (type system definitions, surrogates, strings with
escapes it cannot decode exactly) read exactly as graphql-core's own.
``tests/unit/test_fast_parser.py`` compares the two on a corpus and on generated
documents.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from graphql.language.ast import (
    ArgumentNode,
    BooleanValueNode,
    DirectiveNode,
    DocumentNode,
    EnumValueNode,
    FieldNode,
    FloatValueNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    ListTypeNode,
    ListValueNode,
    NamedTypeNode,
    NameNode,
    NonNullTypeNode,
    NullValueNode,
    ObjectFieldNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    VariableDefinitionNode,
    VariableNode,
)
from graphql.language.block_string import dedent_block_string_lines

__all__ = ["Unparsed", "parse_executable", "token_key"]

# graphql-core's parser.MAX_NESTING_DEPTH: deeper is its "nested too deeply" error.
_MAX_NESTING = 200

# Every significant token, or a comment (comments count toward the token cap, as in
# graphql-core 3.3), after the ignored characters; the last alternative takes any
# other character, so the tokens cover the text without gaps and an error is seen.
# Possessive quantifiers: nothing is given back, so a comment or a string is never
# re-read as tokens. Surrogates are left to graphql-core (they only come from a text
# that was not decoded JSON).
_TOKENS = re.compile(
    r"""(?:[ \t\n\r,\ufeff]++)?+(
        \#[^\n\r\ud800-\udfff]*+
      | [_A-Za-z][_0-9A-Za-z]*+
      | [{}():!$@=\[\]]
      | \.\.\.
      | -?[0-9](?:[0-9A-Za-z_.]|(?<=[eE])[+-])*+
      | \"\"\"(?:[^"\\\ud800-\udfff]|\\\"\"\"|\\|"(?!""))*+\"\"\"
      | "(?!"")(?:[^"\\\n\r\ud800-\udfff]|\\[^\n\r\ud800-\udfff])*+"
      | [\s\S]
      | \Z
    )""",
    re.VERBOSE,
)
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_ESCAPE = re.compile(r'\\(?:u([0-9A-Fa-f]{4})|(["\\/bfnrt]))')
_ESCAPED = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_LINES = re.compile(r"\r\n|[\n\r]")
_NAME_START = frozenset("_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_OPERATIONS = {
    "query": OperationType.QUERY,
    "mutation": OperationType.MUTATION,
    "subscription": OperationType.SUBSCRIPTION,
}
_BOOLEANS = {"true": True, "false": False}
_new = object.__new__


class Unparsed(Exception):
    """Not parsed here: graphql-core's parser decides (and words any error)."""


def _node(cls: type[Any], **fields: Any) -> Any:
    node = _new(cls)
    node.__dict__.update(fields)
    return node


def _name(value: str) -> NameNode:
    node = _new(NameNode)
    node.__dict__.update(loc=None, value=value)
    return node


def parse_executable(source: str, *, max_tokens: int) -> DocumentNode:
    """The document graphql-core would parse from ``source``, or ``Unparsed``."""
    found = _TOKENS.findall(source)
    while found and not found[-1]:
        found.pop()  # the end of the text, matched once or twice
    tokens = [token for token in found if token[0] != "#"]
    if len(found) > max_tokens or not tokens:
        raise Unparsed  # the token cap's error, or an empty document's
    try:
        definitions = _Parser(tokens).definitions()
    except RecursionError:
        raise Unparsed from None  # graphql-core's "nested too deeply", worded by it
    document = _node(DocumentNode, loc=None, definitions=definitions)
    # graphql-core exposes the count of tokens, comments included, on the document.
    object.__setattr__(document, "token_count", len(found))
    return document  # type: ignore[no-any-return]


def token_key(source: str) -> bytes:
    """The document's significant tokens, encoded one-to-one: two texts with the same
    key are the same document, whatever their comments and spacing."""
    return orjson.dumps([token for token in _TOKENS.findall(source) if token[:1] != "#"])


class _Parser:
    """Recursive descent over the token strings (graphql-core's grammar, executable
    definitions only); any surprise is ``Unparsed``."""

    __slots__ = ("depth", "i", "tokens")

    def __init__(self, tokens: list[str]) -> None:
        # A sentinel at the end: "" never matches a punctuator or a name.
        self.tokens = [*tokens, ""]
        self.i = 0
        self.depth = 0

    def _take(self, expected: str) -> None:
        if self.tokens[self.i] != expected:
            raise Unparsed
        self.i += 1

    def _name(self) -> NameNode:
        token = self.tokens[self.i]
        if token[:1] not in _NAME_START:
            raise Unparsed
        self.i += 1
        return _name(token)

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > _MAX_NESTING:
            raise Unparsed

    # Definitions

    def definitions(self) -> tuple[Any, ...]:
        tokens = self.tokens
        definitions = []
        while tokens[self.i] != "":
            definitions.append(self._definition())
        return tuple(definitions)

    def _definition(self) -> Any:
        token = self.tokens[self.i]
        if token == "{":
            return _node(
                OperationDefinitionNode,
                loc=None,
                operation=OperationType.QUERY,
                description=None,
                name=None,
                variable_definitions=None,
                directives=None,
                selection_set=self._selection_set(),
            )
        description = self._description()
        keyword = self.tokens[self.i]
        if keyword in _OPERATIONS:
            self.i += 1
            name = self._name() if self.tokens[self.i][:1] in _NAME_START else None
            return _node(
                OperationDefinitionNode,
                loc=None,
                operation=_OPERATIONS[keyword],
                description=description,
                name=name,
                variable_definitions=self._variable_definitions(),
                directives=self._directives(const=False),
                selection_set=self._selection_set(),
            )
        if keyword == "fragment":
            self.i += 1
            if self.tokens[self.i] == "on":
                raise Unparsed
            name = self._name()
            self._take("on")
            return _node(
                FragmentDefinitionNode,
                loc=None,
                description=description,
                name=name,
                variable_definitions=(),
                type_condition=_node(NamedTypeNode, loc=None, name=self._name()),
                directives=self._directives(const=False),
                selection_set=self._selection_set(),
            )
        raise Unparsed  # type system definitions, extensions, errors

    def _description(self) -> StringValueNode | None:
        if self.tokens[self.i][:1] != '"':
            return None
        return self._string()

    def _variable_definitions(self) -> tuple[VariableDefinitionNode, ...] | None:
        if self.tokens[self.i] != "(":
            return None
        self.i += 1
        definitions = [self._variable_definition()]
        while self.tokens[self.i] != ")":
            definitions.append(self._variable_definition())
        self.i += 1
        return tuple(definitions)

    def _variable_definition(self) -> VariableDefinitionNode:
        description = self._description()
        variable = self._variable()
        self._take(":")
        type_ = self._type()
        default = None
        if self.tokens[self.i] == "=":
            self.i += 1
            default = self._value(const=True)
        return _node(  # type: ignore[no-any-return]
            VariableDefinitionNode,
            loc=None,
            description=description,
            variable=variable,
            type=type_,
            default_value=default,
            directives=self._directives(const=True),
        )

    def _variable(self) -> VariableNode:
        self._take("$")
        return _node(VariableNode, loc=None, name=self._name())  # type: ignore[no-any-return]

    def _type(self) -> Any:
        if self.tokens[self.i] == "[":
            self.i += 1
            self._enter()
            inner = self._type()
            self.depth -= 1
            self._take("]")
            type_ = _node(ListTypeNode, loc=None, type=inner)
        else:
            type_ = _node(NamedTypeNode, loc=None, name=self._name())
        if self.tokens[self.i] == "!":
            self.i += 1
            return _node(NonNullTypeNode, loc=None, type=type_)
        return type_

    # Selections

    def _selection_set(self) -> SelectionSetNode:
        self._enter()
        self._take("{")
        tokens = self.tokens
        selections = [self._selection()]
        while tokens[self.i] != "}":
            selections.append(self._selection())
        self.i += 1
        self.depth -= 1
        return _node(SelectionSetNode, loc=None, selections=tuple(selections))  # type: ignore[no-any-return]

    def _selection(self) -> Any:
        tokens = self.tokens
        token = tokens[self.i]
        if token == "...":
            return self._fragment()
        if token[:1] not in _NAME_START:
            raise Unparsed
        self.i += 1
        alias = None
        name = _name(token)
        if tokens[self.i] == ":":
            self.i += 1
            alias = name
            name = self._name()
        arguments = self._arguments(const=False) if tokens[self.i] == "(" else None
        directives = self._directives(const=False) if tokens[self.i] == "@" else None
        selection_set = self._selection_set() if tokens[self.i] == "{" else None
        node = _new(FieldNode)
        node.__dict__.update(
            loc=None,
            directives=directives,
            name=name,
            alias=alias,
            arguments=arguments,
            selection_set=selection_set,
        )
        return node

    def _fragment(self) -> Any:
        self.i += 1  # the "..."
        token = self.tokens[self.i]
        if token == "on":
            self.i += 1
            condition = _node(NamedTypeNode, loc=None, name=self._name())
        elif token[:1] in _NAME_START:
            self.i += 1
            return _node(
                FragmentSpreadNode,
                loc=None,
                name=_name(token),
                directives=self._directives(const=False),
                arguments=None,
            )
        else:
            condition = None
        return _node(
            InlineFragmentNode,
            loc=None,
            type_condition=condition,
            directives=self._directives(const=False),
            selection_set=self._selection_set(),
        )

    def _arguments(self, *, const: bool) -> tuple[ArgumentNode, ...] | None:
        if self.tokens[self.i] != "(":
            return None
        self.i += 1
        arguments = [self._argument(const)]
        while self.tokens[self.i] != ")":
            arguments.append(self._argument(const))
        self.i += 1
        return tuple(arguments)

    def _argument(self, const: bool) -> ArgumentNode:
        name = self._name()
        self._take(":")
        return _node(ArgumentNode, loc=None, name=name, value=self._value(const))  # type: ignore[no-any-return]

    def _directives(self, *, const: bool) -> tuple[DirectiveNode, ...] | None:
        directives = []
        while self.tokens[self.i] == "@":
            self.i += 1
            name = self._name()
            directives.append(
                _node(DirectiveNode, loc=None, name=name, arguments=self._arguments(const=const))
            )
        return tuple(directives) if directives else None

    # Values

    def _value(self, const: bool) -> Any:
        token = self.tokens[self.i]
        first = token[:1]
        if first == "[":
            return self._list(const)
        if first == "{":
            return self._object(const)
        if first == '"':
            return self._string()
        if first == "$" and not const:  # in a constant: graphql-core's error
            return self._variable()
        self.i += 1
        return _constant(token)

    def _list(self, const: bool) -> ListValueNode:
        self.i += 1
        self._enter()
        values = []
        while self.tokens[self.i] != "]":
            values.append(self._value(const))
        self.i += 1
        self.depth -= 1
        return _node(ListValueNode, loc=None, values=tuple(values))  # type: ignore[no-any-return]

    def _object(self, const: bool) -> ObjectValueNode:
        self.i += 1
        self._enter()
        fields = []
        while self.tokens[self.i] != "}":
            name = self._name()
            self._take(":")
            fields.append(_node(ObjectFieldNode, loc=None, name=name, value=self._value(const)))
        self.i += 1
        self.depth -= 1
        return _node(ObjectValueNode, loc=None, fields=tuple(fields))  # type: ignore[no-any-return]

    def _string(self) -> StringValueNode:
        token = self.tokens[self.i]
        if token.startswith('"""') and len(token) >= 6:
            raw = token[3:-3].replace('\\"""', '"""')
            value = "\n".join(dedent_block_string_lines(_LINES.split(raw)))
            block = True
        elif len(token) >= 2 and token[-1] == '"':
            value = token[1:-1]
            if "\\" in value:
                value = _unescaped(value)
            block = False
        else:
            raise Unparsed  # a lone '"': an unterminated string
        self.i += 1
        return _node(StringValueNode, loc=None, value=value, block=block)  # type: ignore[no-any-return]


def _constant(token: str) -> Any:
    """A name's value (true, false, null or an enum value), or a number's."""
    if token[:1] in _NAME_START:
        if token in _BOOLEANS:
            return _node(BooleanValueNode, loc=None, value=_BOOLEANS[token])
        if token == "null":
            return _node(NullValueNode, loc=None)
        return _node(EnumValueNode, loc=None, value=token)
    if not _NUMBER.fullmatch(token):
        raise Unparsed
    if "." in token or "e" in token or "E" in token:
        return _node(FloatValueNode, loc=None, value=token)
    return _node(IntValueNode, loc=None, value=token)


def _unescaped(value: str) -> str:
    """A string's escapes decoded; ``\\u{...}`` and surrogate pairs go to graphql-core."""
    if _ESCAPE.sub("", value).count("\\"):
        raise Unparsed
    decoded = _ESCAPE.sub(_escape, value)
    return decoded


def _escape(match: re.Match[str]) -> str:
    hex_digits, character = match.groups()
    if character is not None:
        return _ESCAPED[character]
    point = int(hex_digits, 16)
    if 0xD800 <= point <= 0xDFFF:
        raise Unparsed  # a surrogate pair, or an error: graphql-core's to decide
    return chr(point)
