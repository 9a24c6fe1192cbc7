"""Request ids, structured logs and Prometheus metrics: the lowest layer, usable by every other.

It imports nothing of the project, so that gql, resolvers_services and
persistence may all call it (``annotate``, ``record_*``) without an upward arrow.
"""
