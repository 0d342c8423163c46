"""The handlers of `mnd`'s subcommands (pipeline/cli_parser.py maps each subcommand to one)."""
