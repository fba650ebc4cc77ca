"""The run-folder contract: paths and status (``folder``), the trainer's lock (``lock``), the progress
printer (``log``), run and job names (``names``), the one cache rule (``cache``) and the one features reader
(``featurefile``)."""
