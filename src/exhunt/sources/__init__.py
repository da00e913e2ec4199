"""Evidence sources: turn what the user hands over into read-only host trees."""
