"""The LangGraph agent graph (installed as ``vitron_agent.graphs``); built on the typed core."""
