"""Segment frames and ISB angle extraction (docs/angles.md)."""
