"""Commands that read many runs: report, compare, reproduce."""
