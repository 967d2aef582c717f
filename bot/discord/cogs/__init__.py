"""One cog per feature; the bot loads them all in `NewsBot.setup_hook`."""
