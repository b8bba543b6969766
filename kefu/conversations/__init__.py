"""Conversations: messages, routing, presence, real-time events, the agent workspace."""
