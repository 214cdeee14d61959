"""``python -m iota_publisher.cli`` runs the ``iota-publish`` command line."""

from . import main

main()
