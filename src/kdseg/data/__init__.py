"""Data layer: raw nnU-Net v2 datasets, phantoms, validation, preprocessing, splits."""
