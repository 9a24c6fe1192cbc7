"""WSGI entry point for gunicorn."""

import os

from django.core.wsgi import get_wsgi_application

from config.memory import fix_mmap_threshold

fix_mmap_threshold()  # in each worker process, whatever starts it
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

# Build the request pipeline now, not on the first request: a bad trusted-documents
# manifest (or any other setting it is built from) must stop start-up, not leave a
# healthy-looking server that answers every GraphQL request with a 500.
from gql.pipeline import get_pipeline  # noqa: E402 - needs the settings configured above

get_pipeline()
