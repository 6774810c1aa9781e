"""Tools: one file per tool, each serving one Vitron module (installed as ``vitron_agent.tools``).

The tool protocol and the registry arrive with the agent graph; the typed arguments every tool takes already
live in :mod:`vitron_agent.calls`.
"""
