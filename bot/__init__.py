"""Sanad's Rasa side: the NLU components, the knowledge base access, the `sanad` command."""
