"""Limits from the API contract, named once."""

EMAIL_MAX_CHARS = 254
PASSWORD_MIN_CHARS = 8
PASSWORD_MAX_CHARS = 128
POST_MAX_BYTES = 1024 * 1024  # UTF-8 bytes of a post's text
BCRYPT_HASH_CHARS = 60
SOURCE_MAX_CHARS = 45  # the longest textual IPv6 address (with an embedded IPv4)
PERSISTED_DOCUMENT_MAX_BYTES = 65535  # a stored GraphQL document (TEXT on MySQL)
PAGE_DEFAULT = 20  # posts in a connection page when neither first nor last is given
PAGE_MAX = 100  # the most a connection page may ask for
# ids in one nodes(ids:) call: few enough that the worst document stays within the CPU
# bound of tests/api/test_document_caps.py beside a node and the viewer (docs/adr/0007)
NODES_MAX = 50
SHA256_HEX_CHARS = 64  # a SHA-256 digest in hex (refresh tokens are stored only so)
ADDRESS_KEY_MAX_CHARS = (
    45  # an IPv4 address or an IPv6 /64 ("2001:db8:1:2::/64"), or the raw source
)
