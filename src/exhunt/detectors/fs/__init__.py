"""File-system records ($MFT entries, USN journal records): files that are gone, and set-back times."""
