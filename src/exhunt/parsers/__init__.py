"""Parsers: one artifact in, records out; bad data becomes warnings, never exceptions."""
