"""Model building and solving."""
