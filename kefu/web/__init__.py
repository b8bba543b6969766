"""Server-rendered UI: templating helpers, shared templates and static files."""
