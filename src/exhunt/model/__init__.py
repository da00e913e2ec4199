"""Plain data shared by every layer. Nothing here imports another exhunt package."""
