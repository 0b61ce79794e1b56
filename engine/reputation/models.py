"""Reputation tables (the ledger and what it feeds); filled in with the reputation engine."""
