"""`python -m policy_search` runs the policy-search CLI (it needs the `server` extra)."""

from policy_search.api.cli import main

main()
