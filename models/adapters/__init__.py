"""One adapter per provider protocol; each turns a catalog entry into a LangChain chat model."""
