"""Knowledge base (知识库): FAQ entries, articles for agents, the public help center."""
