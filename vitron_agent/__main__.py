"""``python -m vitron_agent`` runs the console script (for environments where scripts are not on PATH)."""

from vitron_agent.cli import main

main()
