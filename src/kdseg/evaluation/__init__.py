"""How good a model is and whether its training settled: metrics, evaluation jobs, the curve rule
and figure, pooled folds."""
