"""How a job runs and writes: atomic outputs, locks, devices, GPU slots, provenance, steps, table
files."""
