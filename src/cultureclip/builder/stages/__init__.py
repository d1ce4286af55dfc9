"""Builder stages: each turns rows into one output dict per row, declaring the fields it reads and writes."""
