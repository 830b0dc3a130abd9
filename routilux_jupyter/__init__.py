"""Jupyter integration for routilux: server extension, kernel agent and notebook widgets."""
