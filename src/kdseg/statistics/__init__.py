"""Paired tests of models (Wilcoxon, Holm) and the statistics rule's findings."""
