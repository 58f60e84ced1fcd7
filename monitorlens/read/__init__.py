"""Stage 1, read: bytes of MONITOR captures and CLIENT LIST logs -> Arrow tables and DataFrames.

The only code that opens input files. Imports nothing from later stages.
"""
