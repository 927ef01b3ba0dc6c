"""The predict job: a model file applied to a split's cases."""
