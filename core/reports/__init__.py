"""Many runs read together: seed groups and paired tests (``compare``), their tables, the HTML/PDF report
and its audit, and the commands that fill a group's missing seeds (``repeat``)."""
