"""Officer console, supervisor pages, public transparency pages and signage (server-rendered HTML)."""
