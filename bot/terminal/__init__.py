"""The bot at a terminal: the command line, the console, and rendering as text."""
