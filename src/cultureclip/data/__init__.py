"""On-disk formats and text helpers every part shares (shards, tables, release files); no model code."""
