"""Segment frames and ISB angle extraction (SPEC §3)."""
