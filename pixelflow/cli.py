"""``pixelflow``: the command line on pixelflow.client.

    pixelflow process ./photos --preset thumbnails --out ./results
    pixelflow jobs get ID | jobs wait ID
    pixelflow batches get ID | batches wait ID

``process`` uploads every image under the folder (several at once, through
presigned PUTs), makes one batch of them, shows the uploads and then the
jobs by state as the batch's event stream tells them, downloads every output
into a tree that mirrors the folder (``<dir>/<name>.<output>.<ext>``), writes
the batch's manifest beside them and prints a summary; it exits 1 when an
item failed, listing them. Run again on the same folder it redoes nothing: a
file's upload is known by its content's SHA-256 (``.pixelflow.json`` in the
output folder), the batch by an Idempotency-Key made of the contents and the
outputs asked for, and an output already downloaded is kept. Ctrl-C leaves
the batch running and says how to pick it up again.

Endpoint and key: ``--url``/``--api-key``, else PIXELFLOW_URL and
PIXELFLOW_API_KEY, else the config file (pixelflow.client).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pixelflow.client import ApiError, Client, Event

IMAGES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".tif", ".tiff", ".avif", ".heic", ".heif", ".jxl"}
STATE = ".pixelflow.json"
EXTENSIONS = {"jpeg": "jpg", "png": "png", "webp": "webp", "gif": "gif", "tiff": "tiff", "avif": "avif"}

console = Console(stderr=True)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def images_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGES)


def load_state(out: Path) -> dict[str, Any]:
    path = out / STATE
    return json.loads(path.read_text()) if path.exists() else {"uploads": {}}


def save_state(out: Path, state: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / STATE).write_text(json.dumps(state, indent=1, sort_keys=True))


def process(pf: Client, args: argparse.Namespace) -> int:
    folder, out = Path(args.folder), Path(args.out)
    files = images_under(folder)
    if not files:
        console.print(f"no images under {folder}")
        return 2
    state = load_state(out)
    uploads: dict[str, str] = state["uploads"]  # content hash → upload key
    hashes = {f: sha256(f) for f in files}
    todo = [f for f in files if hashes[f] not in uploads]
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as bars:
        sent = bars.add_task("uploads", total=len(files), completed=len(files) - len(todo))

        def put(f: Path) -> tuple[Path, str]:
            key = pf.upload(f)
            waited = f" (over the rate limit: waited {pf.waits}×)" if pf.waits else ""
            bars.update(sent, advance=1, description="uploads" + waited)
            return f, key

        with ThreadPoolExecutor(args.concurrency) as pool:
            try:
                for f, key in pool.map(put, todo):
                    uploads[hashes[f]] = key
            finally:
                save_state(out, state)
        outputs = [json.loads(o) for o in args.output]
        asked = json.dumps([sorted(hashes.values()), args.preset, outputs], sort_keys=True)
        idempotency = "cli-" + hashlib.sha256(asked.encode()).hexdigest()[:48]
        items = [{"source": {"key": uploads[hashes[f]]}} for f in files]
        batch = pf.create_batch(items, presets=args.preset, outputs=outputs, idempotency_key=idempotency)
        state["batch"] = batch["id"]
        counts = {s: bars.add_task(s, total=len(files)) for s in ("succeeded", "failed", "canceled")}
        running = bars.add_task("running", total=len(files))

        def show(event: Event) -> None:
            if event.event == "batch.counts":
                c = event.data["counts"]
                bars.update(running, completed=c["processing"])
                for status, task in counts.items():
                    bars.update(task, completed=c[status])

        try:
            save_state(out, state)
            done = pf.wait_batch(batch["id"], show)
        except KeyboardInterrupt:
            console.print(
                f"\nstopped following; batch {batch['id']} goes on. Pick it up again with"
                f" `pixelflow batches wait {batch['id']}`, or run this command again to download its results."
            )
            return 130
    return collect(pf, done, files, folder, out, args.concurrency)


def collect(pf: Client, batch: dict[str, Any], files: list[Path], folder: Path, out: Path, concurrency: int) -> int:
    """Download every succeeded item's outputs beside its mirror path (several at once); the manifest; a summary."""
    failed: list[tuple[Path, dict[str, Any]]] = []
    wanted: list[tuple[str, Path]] = []
    kept = 0
    for source, job in zip(files, pf.batch_jobs(batch["id"]), strict=True):
        rel = source.relative_to(folder)
        if job["status"] != "succeeded":
            failed.append((rel, job))
            continue
        for o in job["outputs"]:
            target = out / rel.parent / f"{rel.stem}.{o['name']}.{EXTENSIONS.get(o['format'], o['format'])}"
            if target.exists() and target.stat().st_size == o["bytes"]:
                kept += 1
            else:
                wanted.append((o["url"], target))
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as bars:
        got = bars.add_task("downloads", total=len(wanted))

        def fetch(item: tuple[str, Path]) -> None:
            pf.download(*item)
            bars.advance(got)

        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(fetch, wanted))
    fetched = len(wanted)
    if batch.get("manifest_url"):
        pf.download(batch["manifest_url"], out / "manifest.jsonl")
    counts = batch["counts"]
    print(
        f"batch {batch['id']}: {batch['status']}; {counts['succeeded']} succeeded, {counts['failed']} failed,"
        f" {counts['canceled']} canceled; {fetched} outputs downloaded, {kept} already there; in {out}"
    )
    for rel, job in failed:
        error = job.get("error") or {}
        print(f"  {job['status']}: {rel}: {error.get('code', '')} {error.get('message', '')}".rstrip())
    return 1 if failed else 0


def show_json(value: Any) -> int:
    print(json.dumps(value, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="pixelflow", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--url", help="the API (default: PIXELFLOW_URL, the config file, http://127.0.0.1:8080)")
    parser.add_argument("--api-key", help="default: PIXELFLOW_API_KEY, or the config file")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("process", help="every image of a folder through one batch, results mirrored")
    run.add_argument("folder")
    run.add_argument("--out", required=True, help="where the outputs go, in the folder's tree")
    run.add_argument("--preset", action="append", default=[], help="a preset of the deployment (repeatable)")
    run.add_argument(
        "--output", action="append", default=[], help='an output as JSON, e.g. {"name":"s","format":"webp","width":200}'
    )
    run.add_argument("--concurrency", type=int, default=8, help="uploads at once (default 8)")
    for noun in ("jobs", "batches"):
        group = commands.add_parser(noun).add_subparsers(dest="verb", required=True)
        for verb in ("get", "wait"):
            group.add_parser(verb).add_argument("id")
    args = parser.parse_args(argv)
    try:
        with Client(args.url, args.api_key) as pf:
            if args.command == "process":
                if not args.preset and not args.output:
                    parser.error("ask for --preset or --output")
                return process(pf, args)
            if args.command == "jobs":
                return show_json(pf.get_job(args.id) if args.verb == "get" else pf.wait_job(args.id))
            return show_json(pf.get_batch(args.id) if args.verb == "get" else pf.wait_batch(args.id))
    except ApiError as exc:
        console.print(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
