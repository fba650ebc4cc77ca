"""The background job queue: submit, poll, cancel; one wrapper process per job; process plumbing."""
