"""The reports over one Comparison: the run view (run.py) and the comparison view (compare.py), rendered
to Markdown and a self-contained HTML file the same way (html.py), with their figures (plots.py)."""
