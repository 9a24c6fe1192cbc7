"""Django's WSGI application, as each worker process builds it once at start-up.

granian serves it through the bridge (``config.bridge:application``, which
imports it); ``bench.profile`` calls it directly. Importing this module sets the
worker up: glibc's mmap threshold, the request pipeline, lean log records, and
what start-up built frozen out of the collector's way.
"""

import os

from django.core.wsgi import get_wsgi_application

from config.memory import fix_mmap_threshold

fix_mmap_threshold()  # in each worker process, whatever starts it
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Before Django loads its middleware and the engine is made: both are instrumented.
from observability.tracing import configure_tracing  # noqa: E402

configure_tracing()

application = get_wsgi_application()

# Build the shared state (the request pipeline, the caches, the token verifier) now,
# not on the first request: a bad trusted-documents manifest (or any other setting it
# is built from) must stop start-up, not leave a healthy-looking server that answers
# every GraphQL request with a 500.
from config import bootstrap  # noqa: E402 - needs the settings configured above

bootstrap.current()

# The server's log records skip the caller's frame and names that no format prints
# (tests keep them: pytest shows each captured line's file and line).
from observability.logs import lean_records  # noqa: E402

lean_records()

# What start-up made lives as long as the worker: frozen, the collector's full passes
# leave it out and walk only what requests left behind (docs/adr/0009).
import gc  # noqa: E402 - here, after everything start-up builds

gc.freeze()
