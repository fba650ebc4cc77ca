"""Training: loss modes, configs and presets, models, the loss, one step, the loop, DDP, checkpoints, features."""
