"""Post schemas: create and delete inputs, the post as shown."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, Field, GetCoreSchemaHandler, model_validator
from pydantic_core import core_schema

from schemas.base import Frozen
from schemas.ids import NodeRef, PostCursor, RowId
from schemas.limits import PAGE_DEFAULT, PAGE_MAX, POST_MAX_BYTES

# Characters that show nothing although Unicode does not class them as white space:
# fillers (Hangul, Braille blank, Khmer vowel-inherent signs) and the BOM.
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800\u17b4\u17b5\ufeff")


def is_visible(char: str) -> bool:
    """False for white space, format and control characters, and invisible fillers."""
    if char.isspace() or char in _INVISIBLE:
        return False
    # Cc (controls), Cf (format: zero-width space/joiners, marks), Zs/Zl/Zp (separators).
    return unicodedata.category(char) not in _INVISIBLE_CATEGORIES


_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})


def has_visible_character(value: str) -> bool:
    """Whether ``value`` shows anything: empty, white-space-only and invisible-only
    texts are blank (the schema's rule, and the database model's)."""
    # any() stops at the first visible character: a long ordinary text costs one step.
    return any(is_visible(char) for char in value)


def _not_blank(value: str) -> str:
    if not has_visible_character(value):
        raise ValueError("must not be empty or blank (it has no visible character)")
    return value


def utf8_size(value: str) -> int:
    """Bytes in ``value``'s UTF-8 encoding (lone surrogates count as they would be refused).

    An ASCII text (CPython knows it is one without looking) is its own length: no
    copy of a 1 MiB post is made to measure it.
    """
    if value.isascii():
        return len(value)
    return len(value.encode("utf-8", errors="surrogatepass"))


def _encodable_and_fits(value: str) -> str:
    # One encoding at most (none for ASCII) serves both checks.
    if value.isascii():
        size = len(value)
    else:
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError:
            raise ValueError("must be valid Unicode (no lone surrogates)") from None
    if size > POST_MAX_BYTES:
        raise ValueError(f"must be at most {POST_MAX_BYTES} bytes of UTF-8")
    return value


PostText = Annotated[str, AfterValidator(_encodable_and_fits), AfterValidator(_not_blank)]
PostId = RowId


class PostCreateInput(Frozen):
    """What addPost takes."""

    text: PostText


class JsonText(str):
    """A stored text already written as a JSON string literal (quoted, escaped, UTF-8).

    Listed posts travel from the database to the wire in this form and are never
    a Python ``str`` of their text for long: a str of mostly ASCII with one emoji
    in it takes four bytes a character, so a page of such posts held as str would
    take four times its size in memory (docs/adr/ on the text leaf).

    It is a ``str`` whose characters are the literal's bytes, one each (Latin-1,
    which CPython keeps at one byte a character, so it weighs what the bytes
    would). Being a str, graphql-core's String serializer passes it through
    untouched; the response encoder writes ``literal`` as it is
    (gql/pipeline/encoding.py), byte for byte what orjson writes for the text.
    ``str(value)`` gives the text itself.
    """

    __slots__ = ()

    def __new__(cls, literal: bytes) -> JsonText:
        return super().__new__(cls, literal.decode("latin-1"))

    @classmethod
    def from_utf8(cls, raw: bytes) -> JsonText:
        """The literal of a text stored as UTF-8 (the str lives only while it is encoded)."""
        return cls(orjson.dumps(raw.decode()))

    @property
    def literal(self) -> bytes:
        """The JSON string literal: quoted, escaped, UTF-8."""
        return self.encode("latin-1")

    def __str__(self) -> str:
        text: str = orjson.loads(self.literal)
        return text

    def __repr__(self) -> str:
        literal = self.literal
        return f"JsonText({literal[:40]!r}{'...' if len(literal) > 40 else ''})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JsonText) and str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return str.__hash__(self)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, _source: Any, _handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.is_instance_schema(cls)


class PostOut(Frozen):
    """A post as the API shows it: built from trusted rows, so its text is not re-validated.

    Its text is a ``str`` where the service has one in hand (a new post) and a
    :class:`JsonText` where it comes from the database.
    """

    id: PostId
    text: str | JsonText
    created_at: datetime

    @classmethod
    def from_row(cls, *, id: int, text: str | JsonText, created_at: datetime) -> PostOut:
        """Trust what our own database returns: a 1 MiB text is not re-checked on every read."""
        return cls.model_construct(id=id, text=text, created_at=created_at)


class PostPageInput(Frozen):
    """One page of the caller's posts (a Relay connection), newest first."""

    first: Annotated[int, Field(ge=0, le=PAGE_MAX)] | None = None
    last: Annotated[int, Field(ge=0, le=PAGE_MAX)] | None = None
    after: PostCursor | None = None
    before: PostCursor | None = None

    @model_validator(mode="after")
    def _one_direction(self) -> PostPageInput:
        if self.first is not None and self.last is not None:
            raise ValueError("give first or last, not both")
        return self

    @property
    def size(self) -> int:
        """How many posts the page holds at most."""
        if self.last is not None:
            return self.last
        return PAGE_DEFAULT if self.first is None else self.first


class PostPage(Frozen):
    """A page of posts with what a Relay connection reports about its neighbours."""

    posts: tuple[PostOut, ...]
    has_next_page: bool
    has_previous_page: bool


class PostDeleteInput(Frozen):
    """What deletePost takes: a reference to (what should be) one of the caller's posts."""

    post: NodeRef
