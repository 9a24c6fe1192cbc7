"""Settings of the bare Django reference: no middleware, no apps, no database.

Served through the project's launcher (``python -m config.serve``) with
``DJANGO_SETTINGS_MODULE=bench.references.django_settings``, so it runs under
the very server and worker settings ``make run`` uses: those (and everything the
launcher checks) come from the project's settings; the request path is bare.
"""

from config.settings import *  # noqa: F403 - the server's settings, then the bare overrides

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "bench.references.django_urls"
INSTALLED_APPS = []
MIDDLEWARE = []
DATABASES = {}
USE_TZ = True
