"""Pure algorithms (text analysis, clustering, tallying): no Flask, no database.

The web app, the CLI and the benchmarks call the same code.
"""
