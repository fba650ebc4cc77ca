"""The background job queue: submit, poll, cancel (``queue``); job folders read back (``records``);
one wrapper process per job (``runner``); process plumbing (``procs``)."""
