"""Writers of Markdown/LaTeX/JSON/PNG reports, the demos and the benchmark (the CLI calls these)."""
