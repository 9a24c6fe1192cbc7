"""URL routes: the GraphQL endpoint and the health check."""

from django.urls import path

from gql.views import GraphQLEndpoint, healthz

urlpatterns = [
    path("graphql", GraphQLEndpoint.as_view(), name="graphql"),
    path("graphql/", GraphQLEndpoint.as_view()),
    path("healthz", healthz, name="healthz"),
]
