"""The scripted demo around the ledger project; ``demo.py`` beside this folder runs it."""
