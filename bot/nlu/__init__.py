"""Custom NLU: text normalisation, language detection, e5 embeddings, KB retrieval, decision."""
