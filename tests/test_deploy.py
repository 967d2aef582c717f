"""The deployment files: Dockerfile, docker-compose.yml, the systemd unit, .env.example, and
the installed package's entry point in a virtual environment of its own."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

from bot.config import SAMPLE_ARCHIVE

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
CODE_DIRS = ("bot", "store", "corpus")
ENV_READ = re.compile(r"""(?:os\.environ\.get|os\.getenv|os\.environ\[)\(?\s*["']([A-Z][A-Z0-9_]*)["']""")
FAKE_TOKEN = "MTA1MjQ2NzQ4MDMxNTU2MjA0OA.GfE3Xw." + "a1B2c3D4e5F6g7H8i9J0k1L2m3N"


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs: comments dropped, continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        whole = pending + stripped
        pending = ""
        keyword, _, arguments = whole.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def command_words(arguments: str) -> list[str]:
    """The words of a CMD/ENTRYPOINT/HEALTHCHECK CMD, in exec (JSON) or shell form."""
    if arguments.startswith("["):
        return json.loads(arguments)
    return shlex.split(arguments)


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return dockerfile_instructions((DEPLOY / "Dockerfile").read_text(encoding="utf-8"))


def test_dockerfile_starts_from_python_311_slim(dockerfile: list[tuple[str, str]]) -> None:
    """By default: the base is a build argument (`make docker-test` passes one made from Debian's packages)."""
    known = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER"}
    known |= {"WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}
    assert {keyword for keyword, _ in dockerfile} <= known
    first = next(keyword for keyword, _ in dockerfile if keyword != "ARG")
    assert first == "FROM"
    defaults = dict(
        arguments.split("=", 1)
        for keyword, arguments in dockerfile[: [k for k, _ in dockerfile].index("FROM")]
        if keyword == "ARG" and "=" in arguments
    )
    stages: list[str] = []
    for keyword, arguments in dockerfile:
        if keyword == "FROM":
            image, *alias = arguments.split()
            image = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: defaults[m.group(1) or m.group(2)], image)
            assert image.startswith("python:3.11-slim") or image in stages, image
            stages += alias[1:] if alias and alias[0].upper() == "AS" else []
    assert len(stages) >= 1, "a multi-stage build: the build's tools stay out of the image"


def test_dockerfile_image_holds_the_built_environment_not_the_sources(dockerfile: list[tuple[str, str]]) -> None:
    last_from = len(dockerfile) - 1 - [k for k, _ in dockerfile][::-1].index("FROM")
    copies = [arguments for keyword, arguments in dockerfile[last_from:] if keyword == "COPY"]
    assert copies and all(arguments.startswith("--from=") for arguments in copies)
    build_settings = {
        arguments for keyword, arguments in dockerfile if keyword == "ARG" and arguments.startswith("PIP_")
    }
    assert not build_settings & {arguments for keyword, arguments in dockerfile[last_from:] if keyword == "ARG"}


def test_dockerfile_runs_as_a_user_who_is_not_root(dockerfile: list[tuple[str, str]]) -> None:
    users = [arguments for keyword, arguments in dockerfile if keyword == "USER"]
    assert users, "no USER: the bot would run as root"
    assert users[-1].split(":")[0] not in ("root", "0")
    commands = [keyword for keyword, _ in dockerfile]
    assert commands.index("CMD") > len(commands) - 1 - commands[::-1].index("USER")


def test_dockerfile_runs_the_bot_and_checks_its_health(dockerfile: list[tuple[str, str]]) -> None:
    last = {keyword: arguments for keyword, arguments in dockerfile}
    entrypoint = command_words(last["ENTRYPOINT"]) if "ENTRYPOINT" in last else []
    command = entrypoint + command_words(last["CMD"])
    assert command[-4:] == ["python", "-m", "bot", "run"]
    assert all(word.endswith("tini") or word == "--" for word in entrypoint)

    health = last["HEALTHCHECK"]
    options, _, check = health.partition("CMD ")
    assert "--interval=" in options and "--start-period=" in options
    assert command_words(check) == ["python", "-m", "bot", "doctor", "--health"]


def test_dockerfile_keeps_archive_and_store_on_volumes(dockerfile: list[tuple[str, str]]) -> None:
    env = " ".join(arguments for keyword, arguments in dockerfile if keyword == "ENV")
    assert "NEWSBOT_ARCHIVE=/data/archive" in env
    assert "NEWSBOT_DB=/data/db/" in env
    assert "NEWSBOT_HEARTBEAT=/data/db/" in env
    volumes = " ".join(arguments for keyword, arguments in dockerfile if keyword == "VOLUME")
    assert "/data/archive" in volumes and "/data/db" in volumes


def test_dockerfile_copies_what_the_repository_root_holds(dockerfile: list[tuple[str, str]]) -> None:
    """The build context is the repository root (docker build -f deploy/Dockerfile .)."""
    header = (DEPLOY / "Dockerfile").read_text(encoding="utf-8").split("FROM", 1)[0]
    assert "docker build -f deploy/Dockerfile" in header
    ignored = {
        line.strip() for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines() if line.strip()
    }
    assert {".git", ".venv", ".env", "var"} <= ignored  # no secrets, no local databases in the context
    copied = []
    for keyword, arguments in dockerfile:
        if keyword == "COPY" and not arguments.startswith("--from="):  # --from: from a build stage
            words = [word for word in arguments.split() if not word.startswith("--")]
            copied += words[:-1]
    assert copied
    for source in copied:
        assert (REPO / source).exists(), f"COPY {source}: not in the build context"
        assert source not in ignored
    packages = {source.split("/")[0] for source in copied}
    assert set(CODE_DIRS) <= packages and "pyproject.toml" in packages


def test_compose_file_runs_one_service_with_env_file_volumes_and_restart() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
    assert list(compose["services"]) == ["newsbot"]
    service = compose["services"]["newsbot"]
    assert service["restart"] == "unless-stopped"
    assert service["env_file"] in (".env", [".env"])
    assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    mounts = {volume["target"]: volume for volume in service["volumes"]}
    assert set(mounts) == {"/data/archive", "/data/db"}
    assert mounts["/data/archive"]["read_only"] is True
    assert mounts["/data/db"]["type"] == "volume" and mounts["/data/db"]["source"] in compose["volumes"]
    assert service["environment"]["NEWSBOT_DB"].startswith("/data/db/")
    assert service["environment"]["NEWSBOT_ARCHIVE"] == "/data/archive"


def test_systemd_unit_restarts_on_failure_as_a_plain_user() -> None:
    sections: dict[str, dict[str, list[str]]] = {}
    section = ""
    for line in (DEPLOY / "newsbot.service").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            sections[section] = {}
            continue
        key, _, value = line.partition("=")
        sections[section].setdefault(key, []).append(value)
    service = sections["Service"]
    assert service["Restart"] == ["on-failure"]
    assert service["User"][0] not in ("root", "0")
    assert service["KillSignal"] == ["SIGTERM"]
    assert service["TimeoutStopSec"] == ["15"]
    assert service["EnvironmentFile"]
    exec_start = shlex.split(service["ExecStart"][0])
    assert exec_start[0].endswith("/bin/python") and exec_start[1:] == ["-m", "bot", "run"]
    assert "WantedBy" in sections["Install"]


def settings_the_code_reads() -> set[str]:
    names = set()
    for folder in CODE_DIRS:
        for file in (REPO / folder).rglob("*.py"):
            names |= set(ENV_READ.findall(file.read_text(encoding="utf-8")))
    return names


def test_env_example_lists_every_setting_the_code_reads() -> None:
    read = settings_the_code_reads()
    assert {"DISCORD_TOKEN", "NEWSBOT_ARCHIVE", "NEWSBOT_DB", "NEWSBOT_ARCHIVE_URL", "NEWSBOT_HEARTBEAT"} <= read
    text = (DEPLOY / ".env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, re.MULTILINE))
    assert read <= listed, f"missing from deploy/.env.example: {sorted(read - listed)}"
    lines = text.splitlines()
    for name in read:  # each with a comment line just above it
        at = next(n for n, line in enumerate(lines) if re.match(rf"^#?\s*{name}=", line))
        assert lines[at - 1].startswith("# ") and "=" not in lines[at - 1].split()[1], name
    assert re.search(r"^DISCORD_TOKEN=$", text, re.MULTILINE), "the example must not hold a token"


# The installed package, outside the repository


def run(*command: str | Path, env: dict[str, str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(word) for word in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def clean_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment with the project installed from the repository (not editable).

    For speed the dependencies are not installed again: a .pth file puts this interpreter's
    site-packages after the venv's own, so the venv sees numpy, discord.py... but imports
    bot, store and corpus from what `pip install` put in it.
    """
    venv = tmp_path_factory.mktemp("clean") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True, timeout=120)
    python = venv / "bin" / "python"
    own = Path(
        run(
            python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", env=os.environ.copy(), cwd=venv
        ).stdout.strip()
    )
    (own / "zz_newsbot_test_dependencies.pth").write_text(
        "\n".join(dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])) + "\n"
    )
    build = venv.parent / "build"
    shutil.copytree(
        REPO, build, ignore=shutil.ignore_patterns(".git", ".venv", "var", "*.egg-info", "__pycache__", "build")
    )
    result = run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--quiet",
        "--no-deps",
        build,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        cwd=venv.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return venv


def venv_env(venv: Path, **settings: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("NEWSBOT_", "DISCORD_"))}
    env.pop("PYTHONPATH", None)
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **settings}


def test_the_installed_package_comes_from_the_venv(clean_venv: Path) -> None:
    result = run(
        clean_venv / "bin" / "python",
        "-c",
        "import bot.discord.cogs.events, bot.doctor, store.db, corpus; "
        "print(bot.doctor.__file__); print(store.db.SCHEMA[:20])",
        env=venv_env(clean_venv),
        cwd=clean_venv.parent,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(str(clean_venv)), "imported from the repository, not the install"
    assert "--" in result.stdout  # schema.sql was installed as package data


def test_entrypoint_in_a_clean_venv_doctor_and_run(clean_venv: Path, tmp_path: Path) -> None:
    python = clean_venv / "bin" / "python"
    db = tmp_path / "db" / "newsbot.sqlite3"
    archive = tmp_path / "archive"
    shutil.copytree(SAMPLE_ARCHIVE, archive)
    env = venv_env(clean_venv, NEWSBOT_DB=str(db), NEWSBOT_ARCHIVE=str(archive))

    indexed = run(python, "-m", "bot", "index", env=env, cwd=tmp_path)
    assert indexed.returncode == 0, indexed.stdout + indexed.stderr

    doctor = run(python, "-m", "bot", "doctor", env=env, cwd=tmp_path)
    assert doctor.returncode == 1, doctor.stdout + doctor.stderr
    lines = doctor.stdout.splitlines()
    assert any(line.startswith("failed") and "Discord token" in line for line in lines), doctor.stdout
    assert [line.split()[0] for line in lines if line.startswith("failed")] == ["failed"]  # only the token
    assert any(line.startswith("ok") and "events" in line for line in lines)

    with_token = run(python, "-m", "bot", "doctor", env={**env, "DISCORD_TOKEN": FAKE_TOKEN}, cwd=tmp_path)
    assert with_token.returncode == 0, with_token.stdout
    assert FAKE_TOKEN not in with_token.stdout and FAKE_TOKEN.split(".")[2] not in with_token.stdout

    bot_run = run(python, "-m", "bot", "run", env=env, cwd=tmp_path, timeout=120)
    assert bot_run.returncode == 2, bot_run.stdout + bot_run.stderr
    assert "No Discord token" in bot_run.stdout + bot_run.stderr
    assert "DISCORD_TOKEN" in bot_run.stdout + bot_run.stderr


def test_every_make_target_the_docs_name_exists() -> None:
    """`make bench-discord` in the README must not meet "No rule to make target"."""
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, flags=re.MULTILINE))
    documents = [REPO / "README.md", *REPO.glob("tests/*.py"), *DEPLOY.iterdir()]
    named = {
        target
        for document in documents
        for target in re.findall(r"(?:`|^\s*)make ([a-z][a-z-]*)", document.read_text(encoding="utf-8"), re.MULTILINE)
    }
    assert {"demo", "test", "bench", "bench-discord", "eval"} <= named
    assert named <= targets, f"named in the docs but not in the Makefile: {sorted(named - targets)}"
