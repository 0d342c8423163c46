"""How mnd reaches a board: push files into a private work directory, run commands there, pull results back."""
