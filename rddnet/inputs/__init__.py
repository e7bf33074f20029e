"""Inputs: CSV files and tables (Parquet, ORC, JSON lines, catalog tables) into data sets of
cached, row-aligned blocks, checked while parsed, and their scaling."""
