"""Commands that make or list runs: train, probe, import, runs, extract, jobs; longtail builds a dataset."""
