"""A self-hostable support assistant that learns from its own conversations."""

__version__ = "0.1.0"
