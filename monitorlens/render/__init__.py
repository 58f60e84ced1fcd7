"""Stage 4, render: an Analysis -> text, HTML, Markdown, JSON, SVG and PNG.

Pure: no argparse, no file reads, no analysis. Imports only from earlier stages.
"""
