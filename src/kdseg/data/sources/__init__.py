"""Public datasets: download or find them, extract them safely, convert to nnU-Net v2 raw."""
