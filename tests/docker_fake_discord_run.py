"""Test only: `python -m bot run` talking to a fake Discord instead of discord.com.

`make docker-test` mounts this file into the container (it is not in the image) and runs

    python /newsbot-test/docker_fake_discord_run.py REST_URL GATEWAY_URL

which points discord.py's REST base and default gateway at the fake (as FakeDiscord.patched()
does in-process), then runs the bot exactly as `python -m bot run` would.
"""

from __future__ import annotations

import runpy
import sys

import discord.gateway
import discord.http
import yarl


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: docker_fake_discord_run.py REST_URL GATEWAY_URL")
    rest_url, gateway_url = sys.argv[1:]
    discord.http.Route.BASE = rest_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    sys.argv = ["python -m bot", "run"]
    runpy.run_module("bot", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
