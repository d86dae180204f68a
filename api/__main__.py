"""`python -m api` runs the policy-search CLI."""

from api.cli import main

main()
