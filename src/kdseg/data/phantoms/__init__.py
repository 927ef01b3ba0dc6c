"""Synthetic phantoms that mimic the paper's three datasets (METHODS section 4).

Each generator returns one case (image channels, label map, spacing) from a seeded
``numpy.random.Generator``; :func:`write_phantom_dataset` writes a whole dataset in the
nnU-Net v2 raw layout. The same seed gives byte-identical files.
"""

from kdseg.data.phantoms.registry import PHANTOMS, PhantomKind, phantom_case_ids
from kdseg.data.phantoms.writer import write_phantom_dataset

__all__ = ["PHANTOMS", "PhantomKind", "phantom_case_ids", "write_phantom_dataset"]
