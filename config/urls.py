"""URL routes: the GraphQL endpoint, the health check and the readiness check."""

from django.urls import path

from config.readiness import readyz
from gql.views import graphql, healthz

urlpatterns = [
    path("graphql", graphql, name="graphql"),
    path("graphql/", graphql),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
]
