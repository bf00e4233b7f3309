"""Batches: many candidate cases solved, resumed from a store, and compared."""
