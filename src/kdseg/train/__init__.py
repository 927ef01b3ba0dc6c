"""Training: patch sampling, the shared loop with checkpoints, segmentation models."""
