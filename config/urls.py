"""URL routes: the GraphQL endpoint and the health check."""

from django.urls import path

from gql.views import graphql, healthz

urlpatterns = [
    path("graphql", graphql, name="graphql"),
    path("graphql/", graphql),
    path("healthz", healthz, name="healthz"),
]
