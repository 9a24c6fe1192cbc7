"""Business logic: one function per use case. Knows neither HTTP, GraphQL nor SQL."""
