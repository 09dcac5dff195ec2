"""The operators' console: server-rendered pages in Bulgarian over the operators' API."""
