"""File detector: flags files by location, name, extension and magic bytes, from YAML file rules."""
