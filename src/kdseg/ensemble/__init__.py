"""Ensembles: member networks run together, or their stored predictions averaged."""
