"""Sanad's stand-in for a fund's affiliate system: verification and balances over HTTP."""
