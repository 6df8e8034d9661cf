"""Orchestration: moderation, retrieval and RAG chains, as LangChain runnables."""
