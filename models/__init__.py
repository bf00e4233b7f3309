"""Domain: cases, metrics, reps, scenarios and plans; loading and validation."""
