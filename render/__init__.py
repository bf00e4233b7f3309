"""Rendering: everything that formats figures (terminal, CSV, Markdown, XLSX, HTML, charts)."""
