"""Building blocks of ``scripts/make_examples.py``: synthetic Exchange evidence for exhunt's examples/."""
