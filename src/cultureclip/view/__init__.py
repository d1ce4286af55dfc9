"""A static HTML view of a dataset: its twin groups side by side, with filters (`cultureclip view`)."""
