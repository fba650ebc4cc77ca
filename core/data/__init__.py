"""Data sources: specs, datasets, Mixed-omega, augmentation, thumbnails."""
