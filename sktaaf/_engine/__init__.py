"""The training engine: the skorch net and its callbacks, the state a fit
continues from, training in standard units, the linear path and the blend,
and the per-gene validation scores."""
