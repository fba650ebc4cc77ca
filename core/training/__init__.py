"""Training: loss modes, configs and presets, models, the loss, one step, the start and the loop, DDP,
checkpoints, features and the device choice (``core.device.pick_device``)."""
