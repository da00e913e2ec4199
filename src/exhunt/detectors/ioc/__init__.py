"""Indicators of compromise: hashes, file names and paths, IPs and ranges, domains, URLs, user agents."""
