"""`make docker-test`: build the Docker image from deploy/Dockerfile and run it for real.

    python -m tests.docker_check [--base IMAGE] [--keep-daemon]

Run as root on a Debian machine (it may install Debian's docker.io, debootstrap and
docker-compose). Steps, each printed as `ok` or `FAILED`:

1. A Docker daemon: the running one, or `dockerd` started here in the background (vfs storage,
   no iptables, no bridge; stopped again at the end).
2. The base image: by default `newsbot-base:bookworm`, made once from Debian's packages
   (debootstrap from the mirror apt uses, then `docker import`) and kept as the cache;
   `--base python:3.11-slim` uses that instead where a registry is reachable.
3. The project image, built from deploy/Dockerfile with the base as a build argument, with the
   host network. pip in the build reads wheels this machine's own pip fetched (its index, its
   certificates), served on 127.0.0.1 for the build's time. Its size and build time are printed.
4. In containers: `python -m bot index` over the bundled sample into a store volume, the archive
   mounted read-only; a non-root user that cannot write the archive; no compiler in the image;
   `python -m bot doctor`; the image's own HEALTHCHECK command (unhealthy before the bot runs);
   the bot (`python -m bot run`, pointed at a fake Discord on the host's loopback by a test-only
   launcher mounted into the container) answering `/events al-qaryatain`; Docker's health status
   turning healthy once the heartbeat is fresh; `docker stop` ending it within the compose
   file's grace period with the store whole.
5. The same with `docker compose` (the v2 plugin) or `docker-compose` (Debian's package) over
   deploy/docker-compose.yml, with a test-only override for the host network and the launcher.

Everything it starts (containers, volumes, the compose project, the daemon) is removed on exit;
the base and project images stay as the cache for the next run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import hashlib
import http.server
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import yaml

from tests.fake_discord import FakeDiscord

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
SAMPLE = REPO / "corpus" / "sample"
LAUNCHER = Path(__file__).resolve().parent / "docker_fake_discord_run.py"
LAUNCHER_IN_CONTAINER = "/newsbot-test/docker_fake_discord_run.py"
CACHE = REPO / "var" / "docker-test"
BASE_IMAGE = "newsbot-base:bookworm"
IMAGE = "newsbot:docker-test"
SUITE = "bookworm"
# A token of the right shape (the doctor checks it); the fake Discord accepts only this one.
TOKEN = "MTA1MjQ2NzQ4MDMxNTU2MjA0OA.GfE3Xw." + "a1B2c3D4e5F6g7H8i9J0k1L2m3N"
GRACE_PERIOD = 15.0  # seconds: the compose file's stop_grace_period
HEALTHY_WITHIN = 120.0  # seconds for Docker to call the running bot healthy (heartbeat every 30 s)


class CheckFailed(Exception):
    """A step of the docker test did not do what it should."""


def say(status: str, what: str) -> None:
    print(f"{status:<7} {what}", flush=True)


def check(condition: object, what: str, detail: str = "") -> None:
    if not condition:
        raise CheckFailed(f"{what}{': ' + detail.strip() if detail.strip() else ''}")
    say("ok", what)


def run(
    *command: str | Path, timeout: float = 600, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(word) for word in command],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        input=stdin,
        check=False,
    )


def must(*command: str | Path, timeout: float = 600, env: dict[str, str] | None = None) -> str:
    """Run a command that has to succeed; its standard output."""
    result = run(*command, timeout=timeout, env=env)
    if result.returncode != 0:
        words = " ".join(str(word) for word in command)
        raise CheckFailed(f"`{words}` exited {result.returncode}: {(result.stderr or result.stdout)[-2000:]}")
    return result.stdout


def apt_install(*packages: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if run("apt-get", "install", "-y", "-q", *packages, env=env).returncode != 0:
        must("apt-get", "update", "-q", env=env)
        must("apt-get", "install", "-y", "-q", *packages, env=env)


# The daemon


def docker_answers() -> bool:
    return shutil.which("docker") is not None and run("docker", "info", timeout=30).returncode == 0


@contextlib.contextmanager
def docker_daemon(keep: bool) -> Iterator[None]:
    """The running Docker daemon, or one started here (and stopped on exit unless `keep`)."""
    if docker_answers():
        say("ok", "a Docker daemon is running: using it")
        yield
        return
    if shutil.which("dockerd") is None:
        apt_install("docker.io")
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "dockerd.log", "ab") as log:
        daemon = subprocess.Popen(
            ["dockerd", "--storage-driver=vfs", "--iptables=false", "--ip-masq=false", "--bridge=none"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # not the terminal's Ctrl-C: stopped below
        )
    try:
        deadline = time.monotonic() + 60
        while not docker_answers():
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise CheckFailed(f"dockerd did not start; see {CACHE / 'dockerd.log'}")
            time.sleep(0.5)
        say("ok", f"started dockerd (pid {daemon.pid}; vfs storage, no bridge, no iptables)")
        yield
    finally:
        if not keep and daemon.poll() is None:
            daemon.terminate()
            try:
                daemon.wait(timeout=60)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
            say("ok", "stopped the dockerd started here")


# The base image and the build


def apt_mirror() -> str:
    """The Debian mirror apt uses on this machine."""
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for source in sources:
        with contextlib.suppress(OSError):
            text = source.read_text(encoding="utf-8")
            for url in re.findall(r"^(?:deb\s+(?:\[[^]]*\]\s+)?|URIs:\s*)(\S+)", text, re.MULTILINE):
                if "security" not in url:
                    return url.rstrip("/")
    return "http://deb.debian.org/debian"


def image_exists(name: str) -> bool:
    return run("docker", "image", "inspect", name, timeout=60).returncode == 0


def make_base_image() -> float | None:
    """newsbot-base:bookworm from Debian's packages, unless it is already there; the seconds it took."""
    if image_exists(BASE_IMAGE):
        say("ok", f"base image {BASE_IMAGE} (cached)")
        return None
    if shutil.which("debootstrap") is None:
        apt_install("debootstrap")
    started = time.monotonic()
    mirror = apt_mirror()
    with tempfile.TemporaryDirectory(prefix="newsbot-base-") as folder:
        root = Path(folder) / "root"
        must(
            "debootstrap",
            "--variant=minbase",
            "--include=python3,python3-venv,python-is-python3,ca-certificates",
            SUITE,
            root,
            mirror,
            timeout=1200,
        )
        for leftover in [*(root / "var/cache/apt/archives").glob("*.deb"), *(root / "var/lib/apt/lists").glob("*")]:
            if leftover.is_file():
                leftover.unlink()
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(
            ["docker", "import", "--change", "ENV LANG=C.UTF-8", "--change", 'CMD ["python3"]', "-", BASE_IMAGE],
            stdin=tar.stdout,
            capture_output=True,
            text=True,
            check=False,
        )
        tar.stdout.close()  # type: ignore[union-attr]
        tar.wait()
        if imported.returncode != 0 or tar.returncode != 0:
            raise CheckFailed(f"docker import failed: {imported.stderr}")
    took = time.monotonic() - started
    say("ok", f"base image {BASE_IMAGE} made from Debian {SUITE} ({mirror}) in {took:.0f} s")
    return took


def wheelhouse() -> Path:
    """The project's dependencies as wheels, fetched by this machine's pip (kept per pyproject.toml)."""
    key = hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()[:12]
    folder = CACHE / f"wheels-{key}"
    if (folder / ".complete").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    pip = [sys.executable, "-m", "pip"]
    with tempfile.TemporaryDirectory(prefix="newsbot-src-") as source:
        for name in ("pyproject.toml", "README.md", "corpus", "store", "bot"):
            copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy2
            copy(REPO / name, Path(source) / name)
        must(*pip, "wheel", "--quiet", "--wheel-dir", folder, source, timeout=1200)
    must(*pip, "download", "--quiet", "--dest", folder, "setuptools>=77", timeout=600)  # the project's build backend
    for built in folder.glob("newsbot-*.whl"):
        built.unlink()  # the build installs the project from its sources
    (folder / ".complete").touch()
    return folder


@contextlib.contextmanager
def served(folder: Path) -> Iterator[str]:
    """A folder served over HTTP on 127.0.0.1 (for pip's --find-links); its URL."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def build_image(base: str) -> tuple[float, int]:
    """Build IMAGE from deploy/Dockerfile on `base`; (seconds, bytes)."""
    wheels = wheelhouse()
    with served(wheels) as url:
        started = time.monotonic()
        result = run(
            "docker",
            "build",
            "--network",
            "host",
            "--file",
            DEPLOY / "Dockerfile",
            "--build-arg",
            f"BASE={base}",
            "--build-arg",
            "PIP_NO_INDEX=1",
            "--build-arg",
            f"PIP_FIND_LINKS={url}",
            "--tag",
            IMAGE,
            REPO,
            timeout=1800,
            env={**os.environ, "DOCKER_BUILDKIT": "0"},  # the classic builder: no buildx plugin needed
        )
        took = time.monotonic() - started
    (CACHE / "build.log").write_text(result.stdout + result.stderr, encoding="utf-8")
    if result.returncode != 0:
        raise CheckFailed(f"docker build failed (log: {CACHE / 'build.log'}): {result.stderr[-2000:]}")
    # The build stage (labelled in the Dockerfile) is left as an untagged image: remove it, and only it.
    run("docker", "image", "prune", "--force", "--filter", "label=newsbot.stage=build", timeout=300)
    size = int(must("docker", "image", "inspect", "--format", "{{.Size}}", IMAGE).strip())
    say("ok", f"built {IMAGE} from deploy/Dockerfile on {base} in {took:.0f} s: {size / 1e6:.0f} MB")
    return took, size


# In containers


class Containers:
    """The containers and volumes this run made, removed at the end."""

    def __init__(self, archive: Path) -> None:
        self.archive = archive
        tag = secrets.token_hex(3)
        self.volume = f"newsbot-docker-test-db-{tag}"
        self.bot = f"newsbot-docker-test-bot-{tag}"
        self.names: list[str] = []

    def mounts(self) -> list[str]:
        return ["--volume", f"{self.archive}:/data/archive:ro", "--volume", f"{self.volume}:/data/db"]

    def run(
        self, *command: str, network: str = "none", options: Sequence[str] = ()
    ) -> subprocess.CompletedProcess[str]:
        """A command in a new container from IMAGE (removed when it ends)."""
        return run(
            "docker", "run", "--rm", "--network", network, *self.mounts(), *options, IMAGE, *command, timeout=300
        )

    def remove(self) -> None:
        for name in self.names:
            run("docker", "rm", "--force", "--volumes", name, timeout=120)
        run("docker", "volume", "rm", "--force", self.volume, timeout=120)


def healthcheck_command() -> list[str]:
    """The image's HEALTHCHECK command (its words after CMD)."""
    config = json.loads(must("docker", "image", "inspect", "--format", "{{json .Config.Healthcheck}}", IMAGE))
    test = config["Test"]
    if test[0] != "CMD":
        raise CheckFailed(f"the HEALTHCHECK is not in exec form: {test}")
    return test[1:]


def check_store_whole(containers: Containers, what: str) -> None:
    integrity = containers.run(
        "python",
        "-c",
        "import os, sqlite3; db = sqlite3.connect('file:' + os.environ['NEWSBOT_DB'] + '?mode=ro', uri=True); "
        "print(db.execute('pragma integrity_check').fetchone()[0])",
    )
    check(integrity.stdout.strip() == "ok", f"{what}: the store passes SQLite's integrity check", integrity.stderr)


def in_containers(containers: Containers) -> None:
    indexed = containers.run("python", "-m", "bot", "index")
    check(
        indexed.returncode == 0, "`python -m bot index` over the bundled sample into the store volume", indexed.stderr
    )
    summary = next((line for line in indexed.stdout.splitlines() if "events in the store" in line), "")
    events = sum(1 for path in SAMPLE.rglob("*.md") if path.name != "index.md")
    check(f" {events} events in the store" in summary, f"the store holds the sample: {summary}", indexed.stdout)

    user = containers.run("id", "-u")
    check(user.returncode == 0 and user.stdout.strip() not in ("", "0"), f"runs as uid {user.stdout.strip()}, not root")
    for who, options in (("the bot's user", ()), ("even root in the container", ("--user", "0"))):
        write = containers.run("sh", "-c", "touch /data/archive/written", options=options)
        check(write.returncode != 0, f"{who} cannot write the archive ({write.stderr.strip()})")
    compilers = containers.run("sh", "-c", "command -v gcc cc c++ clang || true")
    check(compilers.stdout.strip() == "", "no compiler in the image", compilers.stdout)

    doctor = containers.run("python", "-m", "bot", "doctor", options=("--env", f"DISCORD_TOKEN={TOKEN}"))
    check(doctor.returncode == 0 and "All checks passed" in doctor.stdout, "`python -m bot doctor`", doctor.stdout)
    health = healthcheck_command()
    before = containers.run(*health)
    check(
        before.returncode == 1 and "heartbeat" in before.stdout,
        f"HEALTHCHECK `{' '.join(health)}` fails while no bot runs ({before.stdout.strip()})",
        before.stdout + before.stderr,
    )
    asyncio.run(bot_in_a_container(containers, health))
    check_store_whole(containers, "after docker stop")
    after = containers.run(*health)
    check(after.returncode == 1, f"a clean stop removed the heartbeat: HEALTHCHECK fails ({after.stdout.strip()})")


async def docker(*command: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """A docker command in a thread, so that the fake Discord in this process keeps answering."""
    return await asyncio.to_thread(run, "docker", *command, timeout=timeout)


async def answers_events(fake: FakeDiscord, where: str) -> None:
    """`/events al-qaryatain` through the fake Discord, answered as over the sample in the suite."""
    record = await fake.slash("events", {"query": "al-qaryatain"})
    message = await record.final(timeout=30)
    titles = " / ".join(embed.get("title", "") for embed in message["embeds"])
    check(
        "7 events, page 1 of 2" in message["content"] and len(message["embeds"]) == 5,
        f"{where} answers /events al-qaryatain: {message['content'].splitlines()[0]!r}, first: {titles[:70]!r}",
        json.dumps(message)[:1000],
    )


async def wait_healthy(container: str) -> float:
    started = time.monotonic()
    status = ""
    while time.monotonic() - started < HEALTHY_WITHIN:
        status = (await docker("inspect", "--format", "{{.State.Health.Status}}", container)).stdout.strip()
        if status == "healthy":
            return time.monotonic() - started
        await asyncio.sleep(1)
    log = (await docker("inspect", "--format", "{{json .State.Health.Log}}", container)).stdout
    raise CheckFailed(f"Docker did not call {container} healthy within {HEALTHY_WITHIN:.0f} s ({status}): {log[-800:]}")


async def stop_within_grace(container: str, where: str) -> None:
    started = time.monotonic()
    stopped = await docker("stop", "--time", str(int(GRACE_PERIOD)), container, timeout=GRACE_PERIOD + 60)
    took = time.monotonic() - started
    code = (await docker("inspect", "--format", "{{.State.ExitCode}}", container)).stdout.strip()
    logs = await docker("logs", container)
    check(
        stopped.returncode == 0 and code == "0" and took < GRACE_PERIOD - 1,
        f"{where}: `docker stop` (SIGTERM) ended it in {took:.1f} s (grace {GRACE_PERIOD:.0f} s), exit code {code}",
        (logs.stdout + logs.stderr)[-2000:],
    )
    check("SIGTERM received: shutting down" in logs.stdout + logs.stderr, f"{where}: the bot logged the SIGTERM")


async def bot_in_a_container(containers: Containers, health: list[str]) -> None:
    async with FakeDiscord() as fake:
        fake.token = TOKEN
        containers.names.append(containers.bot)
        started = await docker(
            "run",
            "--detach",
            "--name",
            containers.bot,
            "--network",
            "host",
            "--env",
            f"DISCORD_TOKEN={TOKEN}",
            "--health-interval",
            "2s",  # the image's HEALTHCHECK command, checked every 2 s instead of 60
            *containers.mounts(),
            "--volume",
            f"{LAUNCHER}:{LAUNCHER_IN_CONTAINER}:ro",
            IMAGE,
            "python",
            LAUNCHER_IN_CONTAINER,
            fake.rest_url,
            fake.gateway_url,
        )
        check(started.returncode == 0, "started the bot in a container on the host network", started.stderr)
        try:
            await fake.wait_ready(timeout=120)
        except TimeoutError as error:
            logs = await docker("logs", containers.bot)
            raise CheckFailed(f"the bot never connected: {(logs.stdout + logs.stderr)[-2000:]}") from error
        say("ok", f"the bot in the container logged in to the fake Discord at {fake.rest_url}")
        await answers_events(fake, "the bot in a container")
        took = await wait_healthy(containers.bot)
        say("ok", f"Docker calls the container healthy {took:.0f} s after the answer (heartbeat fresh)")
        inside = await docker("exec", containers.bot, *health)
        check(inside.returncode == 0, f"HEALTHCHECK command in the running container: {inside.stdout.strip()}")
        await stop_within_grace(containers.bot, "the bot in a container")
        check(not fake.unhandled and not fake.unexpected_refusals, "the fake Discord saw no unknown or refused request")


# docker compose


def compose_command() -> list[str] | None:
    """`docker compose` (v2 plugin) or `docker-compose`, installing Debian's package if neither is there."""
    if run("docker", "compose", "version", timeout=60).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose") is None:
        try:
            apt_install("docker-compose")
        except CheckFailed as error:
            say("note", f"docker compose: neither the v2 plugin nor docker-compose can be had here ({error})")
            return None
    return ["docker-compose"]


def compose_project(folder: Path, fake: FakeDiscord) -> list[str]:
    """deploy/docker-compose.yml as shipped, its .env, and a test-only override; the file arguments."""
    shutil.copy2(DEPLOY / "docker-compose.yml", folder / "docker-compose.yml")
    example = (DEPLOY / ".env.example").read_text(encoding="utf-8")
    (folder / ".env").write_text(re.sub(r"^DISCORD_TOKEN=$", f"DISCORD_TOKEN={TOKEN}", example, flags=re.M))
    override = {
        "services": {
            "newsbot": {
                "image": IMAGE,  # built above; `up --no-build`
                "network_mode": "host",  # the fake Discord listens on the host's loopback
                "command": ["python", LAUNCHER_IN_CONTAINER, fake.rest_url, fake.gateway_url],
                "volumes": [
                    {"type": "bind", "source": str(LAUNCHER), "target": LAUNCHER_IN_CONTAINER, "read_only": True}
                ],
                "healthcheck": {"interval": "2s"},
            }
        }
    }
    (folder / "docker-compose.test.yml").write_text(yaml.safe_dump(override), encoding="utf-8")
    return ["--project-name", f"newsbot-docker-test-{secrets.token_hex(3)}", "--file", "docker-compose.yml"]


async def with_compose(compose: list[str], archive: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="newsbot-compose-") as folder:
        async with FakeDiscord() as fake:
            fake.token = TOKEN
            files = compose_project(Path(folder), fake)
            env = {**os.environ, "NEWSBOT_ARCHIVE_DIR": str(archive)}
            base = [*compose, *files]
            both = [*base, "--file", "docker-compose.test.yml"]

            async def call(*command: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
                return await asyncio.to_thread(
                    subprocess.run, command, cwd=folder, env=env, capture_output=True, text=True, timeout=timeout
                )

            valid = await call(*base, "config", "--quiet")
            check(
                valid.returncode == 0, f"`{' '.join(compose)} config` validates deploy/docker-compose.yml", valid.stderr
            )
            try:
                indexed = await call(*both, "run", "--rm", "newsbot", "python", "-m", "bot", "index")
                check(indexed.returncode == 0, "compose: `run --rm newsbot python -m bot index`", indexed.stderr)
                up = await call(*both, "up", "--detach", "--no-build")
                check(up.returncode == 0, "compose: `up --detach`", up.stderr)
                container = (await call(*both, "ps", "--quiet", "newsbot")).stdout.strip()
                mounts = json.loads((await docker("inspect", "--format", "{{json .Mounts}}", container)).stdout)
                archive_mount = next(m for m in mounts if m["Destination"] == "/data/archive")
                check(not archive_mount["RW"], "compose: the archive is mounted read-only")
                await fake.wait_ready(timeout=120)
                await answers_events(fake, "compose: the bot")
                took = await wait_healthy(container)
                say("ok", f"compose: Docker calls the service healthy {took:.0f} s after the answer")
                await stop_within_grace(container, "compose: the service")
            finally:
                await call(*both, "down", "--volumes", "--remove-orphans")


# The whole run


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", help=f"the base image (default: {BASE_IMAGE}, made from Debian's packages)")
    parser.add_argument("--keep-daemon", action="store_true", help="leave a dockerd started here running")
    parser.add_argument("--no-compose", action="store_true", help="skip the docker compose part")
    options = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("make docker-test runs as root (it may install and start Docker)", file=sys.stderr)
        return 2
    figures: list[str] = []
    try:
        with docker_daemon(options.keep_daemon):
            base = options.base or BASE_IMAGE
            if options.base is None:
                made = make_base_image()
                if made is not None:
                    figures.append(f"base image made in {made:.0f} s")
            took, size = build_image(base)
            figures.insert(0, f"image {size / 1e6:.0f} MB, built in {took:.0f} s on {base}")
            with tempfile.TemporaryDirectory(prefix="newsbot-archive-") as folder:
                archive = Path(folder) / "archive"
                shutil.copytree(SAMPLE, archive)  # readable by the container's user, whatever the checkout's modes
                for path in [archive, *archive.rglob("*")]:
                    path.chmod(0o755 if path.is_dir() else 0o644)
                Path(folder).chmod(0o755)
                containers = Containers(archive)
                try:
                    in_containers(containers)
                finally:
                    containers.remove()
                compose = None if options.no_compose else compose_command()
                if compose is not None:
                    asyncio.run(with_compose(compose, archive))
    except (CheckFailed, subprocess.TimeoutExpired) as error:
        say("FAILED", str(error))
        return 1
    print(f"docker test passed: {'; '.join(figures)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
