"""The CultureCLIP trainer: twin-aware objective, twin-group sampling, training loop."""
