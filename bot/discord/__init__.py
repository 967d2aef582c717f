"""The bot in Discord: the client, one cog per feature, views (buttons and menus) and rendering as embeds."""
