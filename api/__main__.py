"""`python -m policy_search` runs the policy-search CLI."""

from policy_search.cli import main

main()
