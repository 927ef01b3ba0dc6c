"""Network architectures, built by name from config (see :mod:`kdseg.nets.registry`)."""

from kdseg.nets.registry import ARCHITECTURES, build_network, count_parameters, input_geometry

__all__ = ["ARCHITECTURES", "build_network", "count_parameters", "input_geometry"]
