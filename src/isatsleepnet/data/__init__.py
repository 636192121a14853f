"""Data: readers, prepared store, synthetic PSG."""
