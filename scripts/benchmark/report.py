"""The benchmark's markdown: tables and the ratios the targets are stated in."""

from __future__ import annotations

from typing import Any

from PIL import Image

from scripts.benchmark.corpus import Source

RAW = "Pillow-SIMD + draft"
OURS = "PixelFlow transform (Pillow-SIMD)"


def describe_corpus(sources: list[Source]) -> dict[str, Any]:
    groups: dict[str, dict[str, Any]] = {}
    for s in sources:
        g = groups.setdefault(s.group, {"files": 0, "bytes": 0})
        g["files"] += 1
        g["bytes"] += s.path.stat().st_size
        g["size"] = "x".join(map(str, Image.open(s.path).size))
    return groups


def engine_table(rows: list[dict[str, Any]]) -> list[str]:
    groups = sorted({r["group"] for r in rows}, key=["jpeg-12mp", "jpeg-2mp", "png-2mp-alpha"].index)
    by = {(r["label"], r["group"]): r for r in rows}
    labels = list(dict.fromkeys(r["label"] for r in rows))
    lines = [
        "| engine variant (one core) | " + " | ".join(f"{g}: ms/source (min–max), img/s" for g in groups) + " |",
        "|---|" + "---|" * len(groups),
    ]
    for label in labels:
        cells = []
        for g in groups:
            r = by.get((label, g))
            cells.append(
                f"{r['ms_median']:.1f} ({r['ms_min']:.1f}–{r['ms_max']:.1f}), {r['images_per_s_per_core']:.1f}"
                if r
                else "–"
            )
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("| group | fastest variant | PixelFlow transform ÷ fastest (target ≤ 1.10) |")
    lines.append("|---|---|---|")
    for g in groups:
        candidates = [r for r in rows if r["group"] == g and not r["label"].startswith("PixelFlow transform")]
        fastest = min(candidates, key=lambda r: r["ms_median"])
        ours = by[(OURS, g)]
        lines.append(
            f"| {g} | {fastest['label']} ({fastest['ms_median']:.1f} ms) | "
            f"{ours['ms_median'] / fastest['ms_median']:.2f} |"
        )
    others = [label for label in labels if label.startswith("PixelFlow transform") and label != OURS]
    if others:
        lines += ["", "| PixelFlow transform on the image's other engines ÷ on Pillow-SIMD (AVX2) | "
                  + " | ".join(groups) + " |", "|---|" + "---|" * len(groups)]  # fmt: skip
        for label in others:
            cells = [
                f"{by[(label, g)]['ms_median'] / by[(OURS, g)]['ms_median']:.2f}" if (label, g) in by else "–"
                for g in groups
            ]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def pipeline_table(rows: list[dict[str, Any]], all_cores: dict[str, dict[str, float]]) -> list[str]:
    targets = {"jpeg-12mp": 0.90, "jpeg-2mp": 0.80}
    lines = [
        f"| group | workers | jobs (burst) | jobs/s | {RAW} on all cores at once, img/s | pipeline ÷ engine "
        "(target) | paced rate/s | p50 ms | p95 ms | p99 ms | failed |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        b, p = r["burst"], r["paced"]
        capacity = all_cores.get(r["group"], {}).get("images_per_s", 0)
        ratio = f"{b['jobs_per_s'] / capacity:.2f}" if capacity else "–"
        target = f" (≥ {targets[r['group']]:.2f})" if r["group"] in targets else ""
        lines.append(
            f"| {r['group']} | {r['workers']} | {b['jobs']} | {b['jobs_per_s']:.1f} | {capacity:.1f} | "
            f"{ratio}{target} | {p['rate_per_s']:.1f} | {p['latency_p50_ms']} | {p['latency_p95_ms']} | "
            f"{p['latency_p99_ms']} | {b['failed'] + p['failed']} |"
        )
    roles = ["worker", "relay", "api", "s3", "postgresql", "rabbitmq", "bench client"]
    lines += [
        "",
        "CPU per job in the burst, by process (ms; from /proc), beside the raw engine's ms per image "
        "with all cores busy:",
        "",
        "| group | " + " | ".join(roles) + " | all | raw engine | worker ÷ raw engine |",
        "|---|" + "---|" * (len(roles) + 3),
    ]
    for r in rows:
        spent = r["burst"].get("cpu_ms_per_job", {})
        raw_ms = all_cores.get(r["group"], {}).get("ms_median", 0)
        ratio = f"{spent.get('worker', 0) / raw_ms:.2f}" if raw_ms else "–"
        lines.append(
            f"| {r['group']} | "
            + " | ".join(f"{spent.get(role, 0):.1f}" for role in roles)
            + f" | {sum(spent.values()):.1f} | {raw_ms:.1f} | {ratio} |"
        )
    return lines


def inline_table(r: dict[str, Any]) -> list[str]:
    m = r["median"]
    lines = [
        f"One worker of both queues, the 2 MP JPEGs, {r['jobs']} jobs a burst, {r['turns']} turns each (medians):",
        "",
        "| steps | jobs/s (each turn) | worker CPU ms/job | RabbitMQ CPU ms/job | all CPU ms/job |",
        "|---|---|---|---|---|",
    ]
    for mode, row in m.items():
        each = " / ".join(f"{b['jobs_per_s']:.2f}" for b in r["runs"][mode])
        lines.append(
            f"| {mode} | {row['jobs_per_s']:.2f} ({each}) | {row['worker_cpu_ms_per_job']:.1f} | "
            f"{row['rabbitmq_cpu_ms_per_job']:.1f} | {row['all_cpu_ms_per_job']:.1f} |"
        )
    inline, apart = m["inline"], m["a task per step"]
    if apart["jobs_per_s"] and inline["worker_cpu_ms_per_job"]:
        lines += [
            "",
            f"Inline ÷ a task per step: jobs/s {inline['jobs_per_s'] / apart['jobs_per_s']:.2f}, worker CPU "
            f"{inline['worker_cpu_ms_per_job'] / apart['worker_cpu_ms_per_job']:.2f}, all CPU "
            f"{inline['all_cpu_ms_per_job'] / apart['all_cpu_ms_per_job']:.2f}.",
        ]
    return lines


LAYOUT_NAMES = {"split": "worker-io + worker-transform", "single": "worker (every step)"}


def worker_table(r: dict[str, Any]) -> list[str]:
    m = r["median"]
    lines = [
        f"This checkout's worker and {r['baseline']}'s (the rest of the service this checkout's), the 2 MP JPEGs,"
        f" {r['jobs']} jobs a burst, {r['turns']} turns each (medians; CPU ms per job):",
        "",
        "| worker | jobs/s | worker | S3 server | PostgreSQL | all |",
        "|---|---|---|---|---|---|",
        *(
            f"| {name} | {m[name]['jobs_per_s']:.2f} | {m[name]['worker_cpu_ms_per_job']} |"
            f" {m[name]['s3_cpu_ms_per_job']} | {m[name]['postgresql_cpu_ms_per_job']} |"
            f" {m[name]['all_cpu_ms_per_job']} |"
            for name in ("current", "baseline")
        ),
    ]
    ratio = {
        k: m["current"][k] / m["baseline"][k] for k in ("jobs_per_s", "worker_cpu_ms_per_job", "all_cpu_ms_per_job")
    }
    lines += [
        "",
        f"Current ÷ {r['baseline']}: jobs/s {ratio['jobs_per_s']:.2f}, worker CPU {ratio['worker_cpu_ms_per_job']:.2f},"
        f" all CPU {ratio['all_cpu_ms_per_job']:.2f}.",
    ]
    return lines


def passes(row: dict[str, Any]) -> str:
    each = row.get("passes_jobs_per_s", [])
    return f" ({' / '.join(f'{v:.2f}' for v in each)})" if len(each) > 1 else ""


def remote_table(rows: list[dict[str, Any]] | dict[str, Any]) -> list[str]:
    if isinstance(rows, dict):
        return [f"Not measured: {rows.get('skipped')}."]
    base = {r.get("layout", "single"): r["jobs_per_s"] for r in rows if r["rtt_ms"] == 0}
    targets = {2: 0.95, 20: 0.80}
    lines = [
        "| worker host | RTT to PostgreSQL, RabbitMQ and S3 | jobs (bursts) | jobs/s (each pass) | ÷ 0 ms (target) | "
        "p50 ms | round trips per job: PostgreSQL / S3 / RabbitMQ | worker CPU ms/job | failed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        layout = r.get("layout", "single")
        ratio = f"{r['jobs_per_s'] / base[layout]:.2f}" if base.get(layout) else "–"
        target = f" (≥ {targets[r['rtt_ms']]:.2f})" if r["rtt_ms"] in targets else ""
        turns = r["turns_per_job"]
        lines.append(
            f"| {LAYOUT_NAMES.get(layout, layout)} | {r['rtt_ms']} ms | {r['jobs']} | {r['jobs_per_s']:.2f}"
            f"{passes(r)} | "
            f"{ratio}{target} | {r['latency_p50_ms']} | "
            f"{turns['postgresql']:.1f} / {turns['s3']:.1f} / {turns['rabbitmq']:.1f} | "
            f"{r['cpu_ms_per_job'].get('worker', 0):.0f} | {r['failed']} |"
        )
    return lines


def api_table(api: dict[str, Any]) -> list[str]:
    lines = ["| load | concurrency | requests/s | p50 ms | p99 ms | responses |", "|---|---|---|---|---|---|"]
    for name, r in (
        ("fixed rate " + str(api["fixed_rate"].get("target_rate_per_s")) + "/s", api["fixed_rate"]),
        ("saturation", api["saturation"]),
    ):
        codes = ", ".join(f"{c}: {n}" for c, n in sorted(r["status_codes"].items()))
        lines.append(
            f"| {name} | {r['concurrency']} | {r['requests_per_s']:.0f} | {r['p50_ms']} | {r['p99_ms']} | {codes} |"
        )
    spent = api["saturation"].get("cpu_ms_per_request", {})
    lines += [
        "",
        "CPU per request at saturation, by process (ms): "
        + ", ".join(f"{role} {ms:.2f}" for role, ms in spent.items())
        + ".",
    ]
    side = api.get("side_by_side")
    if side:
        lines += [
            "",
            f"Side by side with {side['baseline']} ({side['rounds']} turns each of {side['seconds']} s at saturation,"
            " alternating): API CPU per request, median (each turn)",
            "",
            "| API | ms | requests/s |",
            "|---|---|---|",
            *(
                f"| {name} | {side['median_api_ms'][name]} ({', '.join(str(v) for v in side['api_ms'][name])})"
                f" | {side['median_requests_per_s'][name]:.0f} |"
                for name in ("baseline", "current")
            ),
            f"| current ÷ baseline | **{side['api_ms_ratio']}** | |",
        ]
    return lines


def batches_table(b: dict[str, Any]) -> list[str]:
    accepts = ", ".join(f"{a['seconds']:.2f}" for a in b["accept"])
    items = b["accept"][0]["items"]
    lines = [
        f"Accepting {items:,} items (POST /v1/batches, {b['accept'][0]['request_bytes'] // 1024} KiB): "
        f"**{b['accept_seconds_median']:.2f} s** median ({accepts}; target ≤ 2 s).",
        "",
        "| turn | single jobs/s | batch jobs/s | batch ÷ single |",
        "|---|---|---|---|",
        *(
            f"| {n} | {t['single']['jobs_per_s']} ({t['single']['jobs']} jobs) | {t['batch']['jobs_per_s']}"
            f" ({t['batch']['jobs']} items) | {t['ratio']} |"
            for n, t in enumerate(b["turns"], start=1)
        ),
        f"| median (target ≥ 0.95) | | | **{b['ratio_median']:.3f}** |",
    ]
    f = b["fairness"]
    lines += [
        "",
        "Another tenant's single jobs (1/s) while a batch runs: latency",
        "",
        "| | jobs | p50 ms | p99 ms | of which until a worker started it: p50 / p99 ms |",
        "|---|---|---|---|---|",
        *(
            f"| {label} | {r['jobs']} | {r['latency_p50_ms']} | {r['latency_p99_ms']} |"
            f" {r.get('waited_p50_ms', '–')} / {r.get('waited_p99_ms', '–')} |"
            for label, r in (("idle", f["idle"]), (f"during a {f['batch']['jobs']}-item batch", f["during_batch"]))
        ),
        f"| during ÷ idle (p99; target ≤ 2) | | | **{f['p99_ratio']:.2f}** | |",
    ]
    if b.get("fairness_by_bound"):
        lines += [
            "",
            "The relay's bound while tenants share the workers (PIXELFLOW_RELAY_READY_PER_CONSUMER_SHARED), in turns:",
            "",
            "| bound while shared | turn | idle p50 / p99 ms | during p50 / p99 ms | until a worker started it,"
            " during: p50 / p99 ms | p99 ÷ idle |",
            "|---|---|---|---|---|---|",
            *(
                f"| {name} | {n} | {r['idle']['latency_p50_ms']} / {r['idle']['latency_p99_ms']} |"
                f" {r['during_batch']['latency_p50_ms']} / {r['during_batch']['latency_p99_ms']} |"
                f" {r['during_batch'].get('waited_p50_ms')} / {r['during_batch'].get('waited_p99_ms')} |"
                f" {r['p99_ratio']:.2f} |"
                for name, runs in b["fairness_by_bound"].items()
                for n, r in enumerate(runs, start=1)
            ),
        ]
    return lines


def peer_table(p: dict[str, Any]) -> list[str]:
    lines = [
        f"thumbor {p['thumbor']} ({p['processes']} processes, stock Pillow, file loader, no storage) and PixelFlow"
        f" ({p['workers']} workers, the whole service) on the 2 MP JPEGs, the standard job's 4 outputs, in turns:",
        "",
        "| turn | PixelFlow jobs/s | thumbor sources/s | PixelFlow CPU ms/job (worker) | thumbor CPU ms/source |",
        "|---|---|---|---|---|",
    ]
    for n, t in enumerate(p["turns"], start=1):
        ours, theirs = t["pixelflow"], t["thumbor"]
        lines.append(
            f"| {n} | {ours['jobs_per_s']} | {theirs['sources_per_s']} | {sum(ours['cpu_ms_per_job'].values()):.0f}"
            f" ({ours['cpu_ms_per_job'].get('worker', 0):.0f}) | {theirs['cpu_ms_per_source']:.0f} |"
        )
    lines += [
        f"| median | {p['pixelflow_jobs_per_s']} | {p['thumbor_sources_per_s']} | {p['pixelflow_cpu_ms_per_job']:.0f}"
        f" ({p['pixelflow_worker_cpu_ms_per_job']:.0f}) | {p['thumbor_cpu_ms_per_source']:.0f} |",
        "",
        f"PixelFlow jobs/s ÷ thumbor sources/s: **{p['ratio']:.2f}** (target ≥ 1.2). thumbor decodes a source once"
        " per output and keeps nothing; PixelFlow decodes it once per job, stores every output in S3 and records"
        " the job in PostgreSQL through RabbitMQ.",
    ]
    return lines


def memory_table(mem: dict[str, Any]) -> list[str]:
    rss = mem["rss"]
    mb = 1024
    lines = [
        "| worker RSS (main + children, recycling off) | MB |",
        "|---|---|",
        f"| after the first batch | {rss['rss_first_kb'] / mb:.0f} |",
        f"| after {rss['mark_jobs']} jobs | {rss['rss_at_mark_kb'] / mb:.0f} |",
        f"| peak | {rss['rss_peak_kb'] / mb:.0f} |",
        f"| after {rss['jobs']} jobs | {rss['rss_end_kb'] / mb:.0f} |",
        f"| end ÷ after {rss['mark_jobs']} (target ≤ 1.10) | {rss['end_over_mark']:.3f} |",
        "",
        "| one 50 MP source, one process | file MB | peak RSS MB (target < 1024) |",
        "|---|---|---|",
    ]
    for p in mem["peak_50mp"]:
        lines.append(f"| {p['format']} {p['pixels'] / 1e6:.1f} MP | {p['bytes'] / 1e6:.1f} | {p['peak_kb'] / mb:.0f} |")
    return lines


def quality_table(q: dict[str, Any]) -> list[str]:
    out = [
        f"q85 JPEG's median score (SSIMULACRA2): **{q['q85_median']:.1f}**; quality auto's default target:"
        f" {q['default_target']:g}. Bytes and CPU: the variant's sum over the corpus ÷ q85 JPEG's; 'meets': the"
        " share of outputs scoring the target or more (fixed variants: q85's median).",
        "",
        "| variant | outputs | bytes ÷ q85 JPEG | CPU ÷ q85 JPEG | CPU ms per output | median score | p10 score "
        "| meets |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in q["summary"]:
        out.append(
            f"| {r['variant']} | {r['outputs']} | **{r['bytes_ratio']:.3f}** | {r['cpu_ratio']:.1f} "
            f"| {r['cpu_ms_per_output']:.0f} | {r['median_score']:.1f} | {r['p10_score']:.1f} | {r['met']:.0%} |"
        )
    return out


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    out = [
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; Python {m['python']}; "
        f"{results['date']}; {'long' if results['long'] else 'default'} run, {results.get('seconds', '?')} s.",
        "",
    ]
    corpus = ", ".join(
        f"{g} ({c['files']} × {c['size']}, {c['bytes'] / c['files'] / 1e6:.1f} MB avg)"
        for g, c in results["corpus"].items()
    )
    out += [f"Corpus: {corpus}. Standard job: decode, orient, 800 px and 200 px wide, each JPEG q85 and WebP q80.", ""]
    if "engine" in results:
        out += ["### Engine", "", *engine_table(results["engine"]), ""]
    if "pipeline" in results:
        out += ["### Pipeline", "", *pipeline_table(results["pipeline"], results.get("engine_all_cores", {})), ""]
    if "inline_steps" in results:
        out += ["### Steps inline against a task per step", "", *inline_table(results["inline_steps"]), ""]
    if "worker_side_by_side" in results:
        out += ["### This worker against an earlier one", "", *worker_table(results["worker_side_by_side"]), ""]
    if "peer" in results:
        out += ["### The peer: thumbor", "", *peer_table(results["peer"]), ""]
    if "batches" in results:
        out += ["### Batches", "", *batches_table(results["batches"]), ""]
    if "quality" in results:
        out += [
            "### Quality auto (SSIMULACRA2 target) against the fixed defaults",
            "",
            *quality_table(results["quality"]),
            "",
        ]
    if "remote" in results:
        out += ["### Remote services (one worker on a host of its own)", "", *remote_table(results["remote"]), ""]
    if "api" in results:
        out += ["### Job creation (POST /v1/jobs)", "", *api_table(results["api"]), ""]
    if "memory" in results:
        out += ["### Memory", "", *memory_table(results["memory"]), ""]
    if "credentials" in results:
        out += [
            "### Storage credentials without keys (web identity through a local STS stand-in)",
            "",
            "| session lifetime | client | CPU ms per signed HEAD | STS calls over the run |",
            "|---|---|---|---|",
            *(
                f"| {r['session_s']} s | {r['client']} | {r['cpu_ms_per_head']:.3f} "
                f"| {r['sts_calls']} of {r['heads']} HEADs |"
                for r in results["credentials"]
            ),
            "",
        ]
    return "\n".join(out)
