"""YARA-X file sweep: webshells, their compiled traces, renamed PST exports and LSASS dumps on disk."""
