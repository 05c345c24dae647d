"""Check that the mock's Swagger UI pages render in a real browser, and keep a screenshot of each.

    .venv/bin/python tools/swagger_screenshot.py [--out-dir reports/swagger] [--chromium chromium]

Starts ``python -m mock_server --port 0``, loads ``/docs/`` (the contract) and ``/__mock__/docs/``
(the control API) in headless Debian ``chromium`` (``apt-get install -y chromium``), writes one PNG
per page, and checks that each PNG is a real, non-blank image. Also dumps each page's DOM after its
scripts ran and checks that Swagger UI rendered the operations (not just the empty shell), since a
screenshot of a page whose JavaScript failed is still a valid PNG. Exit status 0 when both pages
rendered. Swagger UI's assets come from the ``swagger_ui_bundle`` package, so no network is needed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # running as root in a container: the sandbox cannot start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--hide-scrollbars",
    "--window-size=1280,1600",
    # Let Swagger UI fetch the document and render before the picture is taken.
    "--virtual-time-budget=10000",
]
PAGES = {
    "contract": ("/docs/", ["/api/v1/livechat/triggers", "/api/v1/livechat/triggers/{_id}"]),
    "control": ("/__mock__/docs/", ["/reset", "/journal", "/profile"]),
}


def start_mock() -> tuple[subprocess.Popen[bytes], str, Path]:
    workdir = Path(tempfile.mkdtemp(prefix="swagger-screenshot-"))
    banner = workdir / "banner.txt"
    with banner.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "mock_server", "--port", "0", "--quiet"],
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        match = re.search(r"^Listening on (http://\S+)", banner.read_text(), re.MULTILINE)
        if match:
            return process, match.group(1), workdir
        if process.poll() is not None:
            break
        time.sleep(0.1)
    stop(process)
    raise SystemExit(f"the mock did not start:\n{banner.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def wait_healthy(base_url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base_url + "/__mock__/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the mock never became healthy")


def chromium(binary: str, profile_dir: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    command = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def png_size_and_colours(path: Path) -> tuple[int, int, int]:
    """(width, height, distinct colours in a sample of rows): enough to tell a blank page apart."""
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    width, height, depth, colour_type = struct.unpack(">IIBB", data[16:26])
    chunks, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        if kind == b"IDAT":
            chunks.append(data[offset + 8 : offset + 8 + length])
        offset += 12 + length
    raw = zlib.decompress(b"".join(chunks))
    channels = {2: 3, 6: 4}.get(colour_type, 1) * max(depth // 8, 1)
    stride = 1 + width * channels
    colours: set[bytes] = set()
    # Sampling filtered bytes is fine for "is there more than one colour": filters keep variety.
    for row in range(0, height, max(height // 50, 1)):
        line = raw[row * stride + 1 : (row + 1) * stride]
        colours.update(line[i : i + channels] for i in range(0, len(line), channels * 7))
    return width, height, len(colours)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", default=str(REPO_ROOT / "reports" / "swagger"))
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    arguments = parser.parse_args()
    if shutil.which(arguments.chromium) is None and not Path(arguments.chromium).exists():
        print("chromium not found: apt-get install -y chromium", file=sys.stderr)
        return 2
    out_dir = Path(arguments.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    process, base_url, workdir = start_mock()
    failures: list[str] = []
    try:
        wait_healthy(base_url)
        for name, (path, expected_texts) in PAGES.items():
            url = base_url + path
            png = out_dir / f"swagger-{name}.png"
            png.unlink(missing_ok=True)
            shot = chromium(arguments.chromium, workdir / f"profile-{name}", f"--screenshot={png}", url)
            if not png.exists():
                failures.append(f"{name}: no screenshot ({shot.returncode}): {shot.stderr[-500:]}")
                continue
            width, height, colours = png_size_and_colours(png)
            dom = chromium(arguments.chromium, workdir / f"profile-{name}-dom", "--dump-dom", url).stdout
            missing = [text for text in expected_texts if text not in dom]
            print(f"{name}: {url} -> {png} ({width}x{height}, {colours} colours sampled)")
            if colours < 3:
                failures.append(f"{name}: the screenshot looks blank")
            if "swagger-ui" not in dom or missing:
                failures.append(f"{name}: Swagger UI did not render the operations {missing}")
    finally:
        stop(process)
        shutil.rmtree(workdir, ignore_errors=True)
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
