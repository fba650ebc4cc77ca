"""Commands of the dataset audit: tag, export, similar, label-issues."""
