"""``python -m gateway`` runs the ``portico`` command."""

from gateway.cli import main

main()
