"""Print the schema as SDL: ``python -m gql.export > schema.graphql``."""

from __future__ import annotations

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from gql.schema import schema  # noqa: E402 - settings must be configured first


def sdl() -> str:
    """The schema's SDL, as committed in schema.graphql."""
    return schema.as_str() + "\n"


if __name__ == "__main__":
    print(sdl(), end="")
