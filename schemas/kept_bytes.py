"""The old name of :func:`schemas.allocation.shrink_to_fit`, for gql/pipeline.py and
gql/response_cache.py until the engine rewrite imports the new one; then remove it."""

from schemas.allocation import COPY_BELOW_BYTES, shrink_to_fit

kept = shrink_to_fit

__all__ = ["COPY_BELOW_BYTES", "kept"]
