"""The bot: retrieval over the knowledge base, intents and slots, dialogue, handoff."""
