"""Stage 3, analysis: events and CLIENT LIST DataFrames -> breakdowns, findings, one Analysis.

Never opens a file, never renders. Imports only from ``read``, ``store`` and the shared
modules below every stage (``commands``, ``errors``).

The folder is ``analysis``, not ``analyze``: ``monitorlens.analyze`` is the public function, and a
subpackage of that name would replace it on the package once imported.
"""
