"""Every edge that faces a person or a program: the FastAPI app (`app`), the web page (`static/`),
the `policy-search` command (`cli`) and the settings they read (`settings`).

The Python client and the records it shares with the app live in the root package
(`policy_search.client`, `policy_search.records`), so that a client-only install needs none of this.
"""
