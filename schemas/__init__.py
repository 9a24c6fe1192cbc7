"""Pydantic models shared by every layer: inputs, outputs, limits and the error shape."""
