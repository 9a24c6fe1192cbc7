"""URL routes: the GraphQL endpoint, the health check and the readiness check."""

from django.urls import path

from config.readiness import readyz
from gql.views import GraphQLEndpoint, healthz

urlpatterns = [
    path("graphql", GraphQLEndpoint.as_view(), name="graphql"),
    path("graphql/", GraphQLEndpoint.as_view()),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
]
