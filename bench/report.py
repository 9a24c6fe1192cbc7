"""Per-case rows over the rounds, ratios to the references, Markdown and JSON."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

MiB = 1024 * 1024
# The fewest open streams whose memory the streams table divides per stream.
MEMORY_STREAMS = 100
# The references a run may serve (bench/targets.py).
REFERENCES = ("django", "fastapi", "fastapi-standard", "fastapi-orm", "fastapi-orm-write")
# Each ratio column of the JSON rows: the reference it divides by, per row. The typical
# peer's column divides addPost by its write peer and every other case by its reader.
_RATIOS: dict[str, Any] = {
    "x_django": lambda _row: "django",
    "x_fastapi": lambda _row: "fastapi",
    "x_fastapi_standard": lambda _row: "fastapi-standard",
    "x_fastapi_orm": lambda row: (
        "fastapi-orm-write" if row["headline_kind"] == "addPost" else "fastapi-orm"
    ),
}
# Worst first: a case row shows the worst status of its rounds.
_STATUS_ORDER = ("invalid", "n/a", "errors", "ok")


def classify(result: dict[str, Any], headline: str) -> str:
    """ok; errors (some requests failed); n/a (every headline request failed: the
    operation does not exist yet, say); invalid (deletePost ran out of ids)."""
    kind = result["kinds"].get(headline)
    if result["requests"] == 0 or kind is None or kind["requests"] == 0:
        return "n/a"
    if kind["failed"] >= kind["requests"]:
        return "n/a"
    if result["exhausted"]:
        return "invalid"
    socket_errors = sum(result["socket_errors"].values())
    if result["failed"] or socket_errors:
        return "errors"
    return "ok"


def _median(values: Sequence[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def summarise(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (target, case, database, connections), with ratios to the references."""
    # A reference on a database is compared with the app on that database only.
    references = {
        (result["name"], result["database"], result["connections"], result["round"]): result["rps"]
        for result in results
        if result["target"] == "reference" and result["status"] == "ok"
    }
    groups: dict[tuple[str, str, str | None, int], list[dict[str, Any]]] = {}
    for result in results:
        key = (result["target"], result["name"], result["database"], result["connections"])
        groups.setdefault(key, []).append(result)
    rows = []
    for (target, name, database, connections), rounds in groups.items():
        status = min((r["status"] for r in rounds), key=_STATUS_ORDER.index)
        measured = [r for r in rounds if r["status"] != "n/a"]
        row: dict[str, Any] = {
            "target": target,
            "name": name,
            "database": database,
            "connections": connections,
            "rounds": len(rounds),
            "status": status,
            "rps": _median([r["rps"] for r in measured]),
            "p50_ms": _median([r["headline"]["p50_ms"] for r in measured]),
            "p99_ms": _median([r["headline"]["p99_ms"] for r in measured]),
            "requests": sum(r["requests"] for r in rounds),
            "failed": sum(r["failed"] for r in rounds),
            "socket_errors": sum(sum(r["socket_errors"].values()) for r in rounds),
            "rss_peak_bytes": max(r["rss_peak_bytes"] for r in rounds),
            "cpu_us_per_request": _median([r.get("cpu_us_per_request") for r in measured]),
            "samples": [sample for r in rounds for sample in r["samples"]][:3],
            "kinds": _kinds(measured),
            "headline_kind": rounds[0]["headline"]["kind"],
            "client_cpu_share": _median([r.get("client_cpu_share") for r in measured]),
            "server_cpu_share": _median([r.get("server_cpu_share") for r in measured]),
        }
        for column, which in _RATIOS.items():
            reference = which(row)
            ratios = []
            for r in measured:
                base = references.get((reference, database, connections, r["round"]))
                base = base or references.get((reference, None, connections, r["round"]))
                if base:
                    ratios.append(r["rps"] / base)
            row[column] = round(statistics.median(ratios), 3) if ratios else None
        rows.append(row)
    return rows


def _kinds(rounds: Sequence[dict[str, Any]]) -> dict[str, Any]:
    names = sorted({name for r in rounds for name in r["kinds"]})
    return {
        name: {
            "rps": _median([r["kinds"][name]["rps"] for r in rounds if name in r["kinds"]]),
            "p50_ms": _median([r["kinds"][name]["p50_ms"] for r in rounds if name in r["kinds"]]),
            "p99_ms": _median([r["kinds"][name]["p99_ms"] for r in rounds if name in r["kinds"]]),
            "requests": sum(r["kinds"][name]["requests"] for r in rounds if name in r["kinds"]),
            "failed": sum(r["kinds"][name]["failed"] for r in rounds if name in r["kinds"]),
        }
        for name in names
    }


# --------------------------------------------------------------------------- Markdown


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def markdown(report: dict[str, Any]) -> str:
    meta = report["meta"]
    lines = [
        f"# posts-api benchmark, {meta['started']}",
        "",
        f"- Machine: {meta['machine']['summary']}",
        f"- App: `python -m config.serve` as `make run` ({meta['server']}); "
        f"references with {meta['reference_workers']} worker processes each",
        f"- Load: wrk, one thread per core ({meta['machine']['cpus']}), the connections "
        f"shared among them; {meta['duration']} s per case after "
        f"{meta['warmup']} s of warm-up; connections {', '.join(map(str, meta['connections']))}; "
        f"{meta['rounds']} round(s), interleaved (references first in each connection block); "
        "medians over rounds",
    ]
    if not meta["cases"] and not report.get("soak"):
        lines.pop()  # no wrk load ran
    for database in meta["databases"]:
        if database.get("skipped"):
            lines.append(f"- {database['database']}: skipped ({database['skipped']})")
            continue
        lines.append(
            f"- {database['database']}: {database['users']:,} users, {database['posts']:,} posts, "
            f"{database['text_bytes'] / MiB:.1f} MiB of text, largest post "
            f"{database['largest_post_bytes']:,} bytes; {database['workers']} workers; "
            f"created, seeded and started in {database['prepare_seconds']} s"
        )
    for name, same in meta.get("reference_same_bytes", {}).items():
        lines.append(f"- reference {name} answers the app's exact getPosts bytes: {same}")
    header = [
        "",
        "req/s counts every request of the case, from when every wrk thread was sending; "
        "p50/p99 are the headline requests' "
        "(getPosts in getPosts-after-write and mix). x Django, x FastAPI and x FastAPI std: "
        "req/s over the reference's at the same connections in the same round (the references "
        "do getPosts' cache-hit work without GraphQL; FastAPI under plain uvicorn, h11 on "
        "asyncio, and under uvicorn[standard], httptools on uvloop). x ORM: over the typical "
        "FastAPI service on the same database (uvicorn[standard], the user loaded through an "
        "ORM session per request; for addPost, its write through one). CPU us: the server's "
        "own CPU time (all its processes) per answer. wrk %: the share of the machine's CPU "
        "the load generator took (server %: the server's), over the run.",
        "",
        "| case | database | conns | req/s | p50 ms | p99 ms | failed | RSS MiB | CPU us "
        "| wrk % | server % | x Django | x FastAPI | x FastAPI std | x ORM | status |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    rows = sorted(
        report["rows"],
        key=lambda row: (
            row["target"] != "reference",
            _case_order(report, row),
            row["database"] or "",
            row["connections"],
        ),
    )
    labels = meta.get("reference_labels", {})
    lines += header if rows else ([] if report.get("streams") else ["", "No cases measured."])
    for row in rows:
        name = row["name"]
        if row["target"] == "reference":
            name = f"reference: {labels.get(name, name)}"
            if row["headline_kind"] != "getPosts":
                name += f" ({row['headline_kind']})"
        lines.append(
            f"| {name} | {row['database'] or '-'} | {row['connections']} | {_num(row['rps'])} "
            f"| {_num(row['p50_ms'], 2)} | {_num(row['p99_ms'], 2)} | {row['failed'] + row['socket_errors']} "
            f"| {row['rss_peak_bytes'] / MiB:.0f} | {_num(row.get('cpu_us_per_request'))} "
            f"| {_share(row.get('client_cpu_share'))} | {_share(row.get('server_cpu_share'))} "
            f"| {_ratio(row['x_django'])} | {_ratio(row['x_fastapi'])} "
            f"| {_ratio(row.get('x_fastapi_standard'))} | {_ratio(row.get('x_fastapi_orm'))} "
            f"| {row['status']} |"
        )
    multi = [row for row in rows if len(row["kinds"]) > 1]
    if multi:
        lines += [
            "",
            "Per request kind (cases that mix kinds):",
            "",
            "| case | database | conns | kind | req/s | p50 ms | p99 ms | failed |",
            "|---|---|--:|---|--:|--:|--:|--:|",
        ]
        for row in multi:
            for kind, values in row["kinds"].items():
                lines.append(
                    f"| {row['name']} | {row['database']} | {row['connections']} | {kind} "
                    f"| {_num(values['rps'])} | {_num(values['p50_ms'], 2)} "
                    f"| {_num(values['p99_ms'], 2)} | {values['failed']} |"
                )
    problems = [row for row in rows if row["status"] != "ok"]
    if problems:
        lines += ["", "Failures (first answer of each kind of failure):", ""]
        for row in problems:
            sample = row["samples"][0] if row["samples"] else "(no answer body)"
            lines.append(
                f"- {row['name']} / {row['database'] or '-'} / {row['connections']}: "
                f"{row['status']}, {row['failed']} failed, {row['socket_errors']} socket errors: "
                f"`{_one_line(sample)[:200]}`"
            )
    lines += _sections(report)
    lines.append("")
    return "\n".join(lines)


def _sections(report: dict[str, Any]) -> list[str]:
    """What the run measured beside the wrk cases: live updates, the soak."""
    lines = []
    if report.get("streams"):
        lines += ["", "## Live updates (subscriptions)", "", *streams_lines(report)]
    if report.get("soak"):
        lines += ["", "## Soak", "", *soak_lines(report["soak"])]
    return lines


def streams_lines(report: dict[str, Any]) -> list[str]:
    """The streams case: event latency per subscriber count, memory per open stream."""
    setup = report["meta"]["streams"]
    lines = [
        f"graphql-sse subscribers (`{setup['document']}`), opened from one asyncio loop in "
        "the benchmark's process, spread over users of their own (users x streams each; the "
        f"servers run with SUBSCRIPTIONS_MAX_PER_USER={setup['max_per_user']}, the default "
        f"being 10), then {setup['events']} addPosts {setup['interval_seconds']} s apart on one "
        "kept-alive connection, by those users in turn. Latency is the contract's \"commit to "
        "client\": from just after the mutation's HTTP answer arrives to when a subscriber of "
        "its user reads the event, over every (subscriber, event) delivery; the client shares "
        "the machine, and its own loop's time is in the figures. Missing: deliveries not read "
        f"within {setup['grace_seconds']:g} s of the last answer. Not ack'd: stream requests "
        "whose response head never came (opened again). RSS: the workers' (VmRSS, summed) "
        "before and after the streams opened; KiB/stream, their difference over the streams "
        f"(from {MEMORY_STREAMS} streams up: below, one-off costs of the first ones dominate).",
        "",
        "| database | subscribers | users x streams | deliveries | missing | p50 ms | p99 ms "
        "| max ms | opened in s | not ack'd | workers' RSS MiB | KiB/stream | status |",
        "|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for row in report["streams"]:
        if row["status"] == "failed":
            lines.append(
                f"| {row['database']} | {row['subscribers']:,} | | | | | | | | | | "
                f"| failed: `{_one_line(row['samples'][0])[:200]}` |"
            )
            continue
        fewest, most = min(row["per_user"]), max(row["per_user"])
        per_user = str(most) if fewest == most else f"{fewest}-{most}"
        lines.append(
            f"| {row['database']} | {row['subscribers']:,} | {row['users']} x {per_user} "
            f"| {row['deliveries']:,} | {row['missing']} | {_num(row['p50_ms'], 1)} "
            f"| {_num(row['p99_ms'], 1)} | {_num(row['max_ms'], 1)} | {row['open_seconds']:.1f} "
            f"| {row['unacknowledged_attempts']} | {row['rss_before_bytes'] / MiB:.0f} -> "
            f"{row['rss_after_bytes'] / MiB:.0f} "
            f"| {_num(row['kib_per_stream'], 1) if row['opened'] >= MEMORY_STREAMS else '-'} "
            f"| {row['status']} |"
        )
    for row in report["streams"]:
        if row["status"] != "failed" and row["samples"]:
            lines.append(
                f"- {row['database']} / {row['subscribers']:,}: {row['post_failures']} addPosts "
                f"failed, {row['ended_early']} streams ended early, {row['strays']} events of "
                f"another user, {row['duplicates']} twice: `{_one_line(row['samples'][0])[:200]}`"
            )
    return lines


def soak_lines(soaks: Sequence[dict[str, Any]]) -> list[str]:
    lines = []
    for soak in soaks:
        lines.append(
            f"- {soak['database']}: mix at {soak['connections']} connections for {soak['seconds']} s, "
            f"{_num(soak['rps'])} req/s, {soak['failed']} failed; worker RSS after "
            f"{soak['warmup_seconds']} s warm-up {soak['warm_mib']} MiB, at the end {soak['end_mib']} MiB, "
            f"peak {soak['peak_mib']} MiB, growth {soak['growth_mib']:+.1f} MiB, of which the "
            f"caches {soak['cache_growth_mib']:+.1f} MiB (they hold {soak['cache_end_mib']} MiB "
            f"at the end); outside them {soak['growth_outside_caches_mib']:+.1f} MiB "
            f"(flat: within {soak['limit_mib']:.1f} MiB) -> **{_verdict(soak['flat'])}**"
        )
        lines.append(
            f"  - worker RSS samples (MiB, every {soak['interval']} s): {soak['samples_mib']}"
        )
    return lines


def _verdict(flat: bool | None) -> str:
    if flat is None:
        return "no verdict: no request was answered"
    return "flat" if flat else "GROWING"


def _case_order(report: dict[str, Any], row: dict[str, Any]) -> int:
    order = report["meta"]["cases"]
    return order.index(row["name"]) if row["name"] in order else -1


def _one_line(text: str) -> str:
    return " ".join(text.split()).replace("`", "'")


def write(report: dict[str, Any], out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    md = out / "report.md"
    js = out / "report.json"
    md.write_text(markdown(report), encoding="utf-8")
    js.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    return md, js
