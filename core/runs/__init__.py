"""The run folder and run-level operations.

- ``folder``: paths, atomic writes, the JSON readers (``read_json``, ``read_jsonl``, ``read_json_line``), status;
  ``run_summary``/``list_runs`` report a run's true state (``interrupted``, ``unreadable: <file>: <reason>``).
- ``lock``: the trainer's ``fcntl`` lock on ``<run>/.lock`` and the SIGTERM flag trainers and analyses poll.
- ``resume``: opening a run for training (a fresh folder, or a resume with exact records).
- ``log``: the one writer of a run's ``log.txt`` (``run_log``) and the trainer's progress printer.
- ``cache``: the one cache rule of analyses (features fingerprint + parameters -> stored output).
- ``training`` (``train_run``), ``analysis`` (``scores_for_run``, ``pairs_for_run``, ``map_for_run``,
  ``analyse_run``), ``theory`` (``theory_for_run``), ``pruning`` (``prune_run``): what the CLI calls.
- ``pipeline`` (run folder creation, data, features, probe), ``manifest``, ``report`` + ``report_tables``.
"""
