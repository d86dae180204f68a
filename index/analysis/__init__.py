"""Analysis: text into what the index stores: chunks, vectors, terms and the countries named."""
