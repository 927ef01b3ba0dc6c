"""Figures of the study, one module per figure."""
