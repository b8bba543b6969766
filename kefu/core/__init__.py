"""Cross-cutting primitives: settings, database, events, jobs, audit, errors, i18n."""
