"""Test tooling shared by the tests, the load test and the benchmark.

One server launcher (``devkit.server``: ``python -m config.serve``, as ``make run``),
one port helper (``devkit.ports``), one GraphQL-over-HTTP client
(``devkit.client``) and one graphql-sse subscriber for many streams at once
(``devkit.sse``). Standard library only, and nothing from the app's packages,
so scripts can use it without Django.
"""
