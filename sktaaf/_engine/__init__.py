"""The training engine: the skorch net, its callbacks, state and checkpoints."""
