"""Agents, roles and permissions, groups (skills), sessions and API tokens."""
