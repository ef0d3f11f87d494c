"""`python -m powchain`: the command line."""

from powchain.cli import main

main()
