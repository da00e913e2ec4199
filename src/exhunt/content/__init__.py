"""Loading and validating detection content (not the content itself, which lives in exhunt/rules)."""
