"""Training: subject-wise folds, streamed data loaders, the loss, the training loop and cross-validation."""
