"""`python -m animejax.convert` (see animejax/convert/cli.py)."""

from animejax.convert import cli

cli.run()
