"""Retrieval-augmented generation: cut documents into chunks, embed them, index them, find the right ones.

Modules:
- chunking: fixed-size and sentence chunking with overlap, the bundled documents and questions.
- retrieval: MiniLM embeddings, faiss indexes, search, recall and the assembled prompt.
"""
