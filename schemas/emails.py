"""The one canonical form of an email address, shared by validation and storage."""

from __future__ import annotations

import unicodedata

# NFKC can shrink a string (combining sequences compose, at most about 4:1), so an
# input a little over the limit may still normalise to a legal address; anything
# far beyond cannot, and is left as it is for the length check to refuse without
# spending time (and memory: NFKC can also expand 18-fold) on it.
_NORMALISE_MAX_CHARS = 4 * 254 + 16


def canonical_email(value: str) -> str:
    """Trimmed, NFKC-normalised and case-folded: look-alikes become one address.

    Fullwidth ``kate`` is ``kate``, the ligature ``fi`` is ``fi``, ``straße`` is ``strasse``.
    As Django's ``normalize_username`` (NFKC) plus ``str.casefold``. Case folding can
    leave a string that NFKC would change again, so both are applied until
    nothing changes (twice is always enough in practice; four bounds it).
    """
    text = value.strip()
    if len(text) > _NORMALISE_MAX_CHARS:
        return text
    for _ in range(4):
        folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
        folded = folded.strip()
        if folded == text:
            break
        text = folded
    return text
