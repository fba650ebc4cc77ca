"""Data sources: specs, datasets, Mixed-omega, the per-class split, augmentation, thumbnails."""
