"""What a reader reads: plain-text tables, figures and the markdown/HTML report."""
