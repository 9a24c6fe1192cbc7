"""URL routes: the GraphQL endpoint, health, readiness and metrics; JSON error handlers."""

from django.urls import path

from config import bootstrap
from config.readiness import readyz
from gql.metrics_view import metrics
from gql.views import graphql_view, healthz

graphql = graphql_view(bootstrap.pipeline)

urlpatterns = [
    path("graphql", graphql, name="graphql"),
    path("graphql/", graphql),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
]

# Django's own answers (bad Host, unknown path, a crash) in the GraphQL error shape.
handler400 = "gql.http_errors.bad_request"
handler403 = "gql.http_errors.permission_denied"
handler404 = "gql.http_errors.not_found"
handler500 = "gql.http_errors.server_error"
