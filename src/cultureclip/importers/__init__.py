"""Importers: published datasets in their own layouts, converted into our dataset format."""
