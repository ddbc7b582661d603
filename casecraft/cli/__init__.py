"""The operators' command line (Typer + Rich); a thin shell over the library."""
