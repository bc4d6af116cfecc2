"""Features, models, training and the model registry."""
