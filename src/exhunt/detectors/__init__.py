"""Detectors: engines that read records and files and yield findings. They hold no detection content."""
