"""ISATSleepNet: automatic sleep staging from polysomnography."""

__version__ = "0.1.0"

STAGES: tuple[str, ...] = ("W", "N1", "N2", "N3", "REM")
"""The five AASM stages, in the order of the integer labels 0..4 used everywhere."""
