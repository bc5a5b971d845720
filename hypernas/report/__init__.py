"""What the book shows, from stored results: tables, figures, claim verdicts and the sentences that state
them, the baseline comparison, and the paper's own numbers."""
