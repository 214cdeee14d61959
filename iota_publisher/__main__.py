"""``python -m iota_publisher`` runs the ``iota-publish`` command line."""

from .cli import main

main()
