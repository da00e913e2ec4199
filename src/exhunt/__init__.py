"""exhunt: offline hunting for Microsoft Exchange exploitation in collected evidence."""

__version__ = "0.1.0"
