"""Knowledge distillation: soft labels of ensembles, KD losses, student training."""
