"""S1: read the customer's logged LLM calls into one canonical table, and profile them."""
