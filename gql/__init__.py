"""Routing: Strawberry types, queries, mutations, context, permissions and extensions."""
