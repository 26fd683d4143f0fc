"""``autoattach smoke``: a first-deployment check against a real subscription (or the sandbox).

azure.py (raw ARM requests, clocks), site.py (the marked group, the names and marks a run
uses), guesses.py (what the double guesses, and how an observation
is compared), probes.py (the smallest request per guess), cycle.py (the whole cycle through the
deployed app), cleanup.py (what a run leaves, found and removed), run.py (the order, and cleanup
on any exit), report.py (json and table, the world-settings file), rehearsal.py (the same run
against the local double).
"""
