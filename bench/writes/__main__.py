"""`python -m bench.writes`: see `bench.writes.cli`."""

from bench.writes.cli import main

main()
