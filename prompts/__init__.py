"""Prompt text files, read with ``importlib.resources`` (installed as ``vitron_agent.prompts``)."""
