"""Chat history: the SQLite store, the reply status vocabulary, export and import."""
