"""Storage: the index directory (segments and one commit), its writer, readers and merges."""
