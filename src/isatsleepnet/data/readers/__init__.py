"""Readers for raw recordings: EDF/BDF signals and hypnograms in their several formats."""
