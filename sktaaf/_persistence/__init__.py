"""Files of fitted models: the model file's format and checks, the model
card, and the checkpoints of fits in progress."""
