"""The run folder and run-level operations: paths and atomic writes, manifest, pipeline, report."""
