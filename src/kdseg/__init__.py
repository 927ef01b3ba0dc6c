"""kdseg: knowledge distillation experiments for medical image segmentation."""

__version__ = "0.1.0"
