"""Shared marshmallow schemas and fields, and the compiled dumpers that write responses from them."""
