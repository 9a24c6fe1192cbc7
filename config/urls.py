"""URL routes: the GraphQL endpoint, the health check and the metrics; JSON error handlers."""

from django.urls import path

from gql.metrics_view import metrics
from gql.views import GraphQLEndpoint, healthz

urlpatterns = [
    path("graphql", GraphQLEndpoint.as_view(), name="graphql"),
    path("graphql/", GraphQLEndpoint.as_view()),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
]

# Django's own answers (bad Host, unknown path, a crash) in the GraphQL error shape.
handler400 = "gql.http_errors.bad_request"
handler403 = "gql.http_errors.permission_denied"
handler404 = "gql.http_errors.not_found"
handler500 = "gql.http_errors.server_error"
