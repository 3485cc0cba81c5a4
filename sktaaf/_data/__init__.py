"""The data path: ``X`` and ``y`` validated at the boundary of ``fit`` and
``predict``, wrapped once as row sources (in memory, sparse or on disk), and
the datasets the training loop reads batches from."""
