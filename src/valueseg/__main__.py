"""``python -m valueseg`` runs the command line."""

from valueseg.cli import main

main()
