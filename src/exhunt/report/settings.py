"""What the user decides about the sharing outputs: the TLP marking, and the scan's time (used only where a
format needs a time the evidence does not give, and then said so)."""

from __future__ import annotations

from dataclasses import dataclass

# TLP levels exhunt marks outputs with. "clear" is TLP 2.0's name for TLP 1.0's "white" (STIX 2.1 ships the
# TLP 1.0 marking definitions, so "clear" is written there as TLP:WHITE). Default amber: what a victim found is
# for the recipients' organisations, not for the public, unless the user says otherwise.
TLP_LEVELS = ("clear", "green", "amber", "red")
DEFAULT_TLP = "amber"


@dataclass(frozen=True, slots=True)
class ReportSettings:
    tlp: str = DEFAULT_TLP
    scan_time: str | None = None  # ISO 8601 UTC; None in tests and whenever determinism matters more

    def __post_init__(self) -> None:
        if self.tlp not in TLP_LEVELS:
            raise ValueError(f"unknown TLP level {self.tlp!r}; choose from {', '.join(TLP_LEVELS)}")

    @property
    def tlp_label(self) -> str:
        return f"TLP:{self.tlp.upper()}"
