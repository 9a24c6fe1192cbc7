"""``make bench``: measure the app against its references in one run.

For each database (SQLite, and MariaDB in a fresh database) the app is
migrated, seeded and served exactly as ``make run`` serves it
(``python -m config.serve``); next to it run a bare Django view and a minimal
FastAPI app doing getPosts' cache-hit work without GraphQL, the latter under
uvicorn as ``pip install fastapi uvicorn`` gives it (h11, asyncio) and as
``uvicorn[standard]`` does (httptools, uvloop), and, on each database, the
typical FastAPI service: the user loaded through an ORM session on every
request, and addPost written through one. wrk (one thread per core) then
drives every case at every connection count, the references first in each
block, for ``--rounds`` interleaved rounds. With ``--cases streams`` (or ``all``),
live updates too, after those: event latency from the mutation's answer to each
of 1, 100 and 1,000 open subscriptions (``--subscribers``) and the workers' memory
per open stream (bench/streams.py). The report (Markdown and JSON) goes to
bench/results/<time>/ (git-ignored).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import itertools
import os
import platform
import shutil
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report, streams
from bench.cases import BY_NAME, CASES, DEFAULT_CASES, Case, Inputs, lua_config
from bench.cases import documents_to_register as apq_documents
from bench.load import (
    RssSampler,
    WrkError,
    cache_bytes,
    cpu_seconds,
    run_wrk,
    wait_idle,
    wrk_path,
)
from bench.report import REFERENCES
from bench.seed import token_subject
from bench.targets import (
    DEFAULT_MYSQL_URL,
    AppTarget,
    Reference,
    Settings,
    drop_quietly,
    same_bytes,
    start_orm_references,
    start_references,
)
from devkit.server import Server

RESULTS = Path(__file__).resolve().parent / "results"
MiB = 1024 * 1024
# Defaults of a full run and of --quick (options given explicitly win over both).
FULL = {
    "duration": 10,
    "warmup": 2,
    "connections": "1,16,64",
    "background_users": 1000,
    "huge_posts": 6,
    "subscribers": "1,100,1000",
    "stream_events": 30,
}
QUICK = {
    "duration": 1,
    "warmup": 1,
    "connections": "16",
    "background_users": 50,
    "huge_posts": 2,
    "subscribers": "1,10",
    "stream_events": 10,
}
# What --cases names beside the wrk cases.
EXTRA_CASES = (streams.NAME,)
SOAK_CASE = BY_NAME["mix"]


def _csv(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _env_int(name: str) -> int | None:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--duration", type=int, help="seconds measured per case (10; --quick: 1)")
    add("--warmup", type=int, help="seconds of unmeasured load before each case (2; --quick: 1)")
    add("--connections", help="connection counts, comma-separated (1,16,64; --quick: 16)")
    add(
        "--cases",
        default=",".join(DEFAULT_CASES),
        help=f"cases, comma-separated, 'all' or 'none' (default: {','.join(DEFAULT_CASES)}; "
        f"all: {','.join([*(case.name for case in CASES), *EXTRA_CASES])})",
    )
    add(
        "--subscribers",
        help="the streams case's open subscriptions, comma-separated (1,100,1000; --quick: 1,10)",
    )
    add(
        "--stream-events",
        type=int,
        help="addPosts the streams case sends per subscriber count (30; --quick: 10)",
    )
    add(
        "--stream-interval",
        type=float,
        default=0.5,
        help="seconds from one of those addPosts to the next (0.5)",
    )
    add("--databases", default="sqlite,mysql", help="sqlite, mysql or both (sqlite,mysql)")
    add(
        "--references",
        help=f"comma-separated, of {', '.join(REFERENCES)}; or 'none' (default: all of "
        "them, none when only the streams case or the soak runs)",
    )
    add("--rounds", type=int, default=1, help="interleaved rounds; rows show medians (1)")
    add(
        "--quick",
        action="store_true",
        help="smoke run: 1 s per case, 1 s warm-up, 16 connections, a small seed "
        "(options given explicitly still apply)",
    )
    add(
        "--soak",
        type=int,
        default=0,
        metavar="SECONDS",
        help="after the cases, the mix for SECONDS per database, sampling worker RSS",
    )
    add("--soak-connections", type=int, default=16, help="connections of the soak (16)")
    add(
        "--mysql-url",
        default=DEFAULT_MYSQL_URL,
        help="MariaDB/MySQL server (a database is created)",
    )
    add("--users", type=int, help="accounts per token group (default: max(64, connections))")
    add(
        "--background-users",
        type=int,
        help="users with a realistic spread of posts (1000; --quick: 50)",
    )
    add("--huge-posts", type=int, help="posts near 1 MiB among them (6; --quick: 2)")
    add(
        "--workers", type=int, default=_env_int("WORKERS"), help="WORKERS for the app (as make run)"
    )
    add(
        "--threads", type=int, default=_env_int("THREADS"), help="THREADS for the app (as make run)"
    )
    add("--timeout", type=int, default=30, help="wrk's per-request timeout in seconds (30)")
    add("--out", type=Path, help="report directory (default bench/results/<UTC time>)")
    add("--keep", action="store_true", help="keep the databases' files and wrk configs")
    return parser


def _parse_cases(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """--cases into the wrk cases (``args.cases``) and the streams case (``args.streams``)."""
    names = _csv(args.cases)
    if names == ["all"]:
        names = [*(case.name for case in CASES), *EXTRA_CASES]
    elif names == ["none"]:
        names = []
    unknown = [name for name in names if name not in BY_NAME and name not in EXTRA_CASES]
    if unknown:
        parser.error(f"unknown case(s): {', '.join(unknown)}")
    args.cases = [BY_NAME[name] for name in names if name in BY_NAME]
    args.streams = streams.NAME in names
    try:
        args.subscribers = [int(item) for item in _csv(args.subscribers)]
    except ValueError:
        parser.error("--subscribers: whole numbers, comma-separated")
    if args.streams and (
        not args.subscribers
        or min(args.subscribers) < 1
        or args.stream_events < 1
        or args.stream_interval < 0
    ):
        parser.error("--subscribers and --stream-events must be positive")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = _parser()
    args = parser.parse_args(argv)

    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.connections = [int(item) for item in _csv(args.connections)]
    _parse_cases(parser, args)
    args.databases = _csv(args.databases)
    if not args.databases or set(args.databases) - {"sqlite", "mysql"}:
        parser.error("--databases: sqlite, mysql or both")
    if args.references is None:
        # They are compared with the wrk cases only.
        args.references = list(REFERENCES) if args.cases else []
    else:
        args.references = [] if args.references == "none" else _csv(args.references)
    if set(args.references) - set(REFERENCES):
        parser.error(f"--references: some of {', '.join(REFERENCES)}, or none")
    if not args.connections or min(args.connections) < 1 or args.duration < 1 or args.rounds < 1:
        parser.error("--connections, --duration and --rounds must be positive")
    if not args.cases and not args.streams and not args.soak:
        parser.error("nothing to run: no cases and no --soak")
    if args.users is None:
        most = max([*args.connections, args.soak_connections if args.soak else 1])
        args.users = most if args.quick else max(64, most)
    return args


def _groups(args: argparse.Namespace) -> tuple[list[str], bool]:
    """Token groups to sign up, and whether login accounts are needed."""
    cases: list[Case] = list(args.cases) + ([SOAK_CASE] if args.soak else [])
    needed: set[str] = {"readers"} if args.references else set()
    if "fastapi-orm-write" in args.references:
        needed.add("writers")
    for case in cases:
        needed.add(case.group)
        needed.update(case.needs)
    if args.streams:
        needed.add("subscribers")
    logins = "logins" in needed
    needed.discard("logins")
    return sorted(needed), logins


def _expected_seconds(args: argparse.Namespace) -> float:
    per = args.duration + args.warmup + 2
    blocks = args.rounds * len(args.connections)
    work = blocks * (len(args.references) + len(args.cases) * len(args.databases)) * per
    if args.streams:
        each = args.stream_events * args.stream_interval + 60
        work += len(args.databases) * len(args.subscribers) * each
    return float(600 + work + args.soak * len(args.databases))


def _machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cpus = os.cpu_count() or 0
    load = os.getloadavg()
    summary = (
        f"{cpus} CPUs ({model or platform.machine()}), Linux {platform.release()}, "
        f"Python {platform.python_version()}; load average at start "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    return {
        "cpus": cpus,
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg_at_start": load,
        "summary": summary,
    }


class Bench:
    """One run: the targets, the references, the measurements."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.started = datetime.now(UTC)
        self.out: Path = args.out or RESULTS / self.started.strftime("%Y%m%d-%H%M%S")
        self.out.mkdir(parents=True, exist_ok=True)
        self.work = self.out / "work"
        self.settings = Settings(
            run_dir=self.out,
            duration=args.duration,
            warmup=args.warmup,
            group_size=args.users,
            background_users=args.background_users,
            huge_posts=args.huge_posts,
            workers=args.workers,
            threads=args.threads,
            expected_seconds=_expected_seconds(args),
            subscriber_users=streams.users_needed(args.subscribers) if args.streams else 0,
        )
        self.targets: list[AppTarget] = []
        self.skipped: list[dict[str, Any]] = []
        self.references: list[Reference] = []
        self.same_bytes: dict[str, bool] = {}
        self.results: list[dict[str, Any]] = []
        self.soaks: list[dict[str, Any]] = []
        self.streams: list[dict[str, Any]] = []
        self.runs = 0

    def servers(self) -> list[Server]:
        """Every server of the run: they share the CPUs."""
        apps = [target.server for target in self.targets if target.server is not None]
        references = {id(ref.server): ref.server for ref in self.references}
        return apps + list(references.values())

    def log(self, message: str) -> None:
        elapsed = (datetime.now(UTC) - self.started).total_seconds()
        print(f"[bench {elapsed:6.0f}s] {message}", file=sys.stderr, flush=True)

    # ------------------------------------------------------------------ set-up

    def prepare(self) -> None:
        groups, logins = _groups(self.args)
        for database in self.args.databases:
            target = AppTarget(database, self.settings, mysql_url=self.args.mysql_url)
            self.log(f"{database}: creating, migrating and seeding ({', '.join(groups)})")
            try:
                target.prepare(groups, logins=logins)
            except Exception as exc:
                target.stop()
                drop_quietly(target)
                if database == "sqlite":
                    raise
                # MariaDB may be missing on a developer's machine: report it, measure the rest.
                reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                self.log(f"{database}: skipped: {reason}")
                self.skipped.append({"database": database, "skipped": reason})
                continue
            self.targets.append(target)
            self.log(f"{database}: ready ({target.describe()})")
        if not self.targets:
            raise SystemExit("no database could be prepared")
        if self.args.references:
            first = self.targets[0]
            answers = first.reference_answers()
            self.log(f"starting references: {', '.join(self.args.references)}")
            self.references = start_references(
                self.args.references,
                answers=answers,
                settings=self.settings,
                workers=first.workers,
                tokens=first.tokens("readers"),
            )
            for target in self.targets:
                self.references += start_orm_references(
                    self.args.references, target, settings=self.settings, workers=first.workers
                )
            for reference in self.references:
                if reference.case != "getPosts":
                    continue
                owner = next(
                    t for t in self.targets if t.database == (reference.database or first.database)
                )
                token = reference.tokens[0]
                expected = owner.reference_answers()[token_subject(token)]
                key = reference.name + (f" ({reference.database})" if reference.database else "")
                self.same_bytes[key] = same_bytes(reference, token, expected)

    # ------------------------------------------------------------------ measuring

    def _inputs(self, target: AppTarget, case: Case, connections: int) -> tuple[Inputs, Inputs]:
        inputs = Inputs(
            tokens=target.tokens(case.group),
            heavy_tokens=target.tokens("heavy"),
            logins=target.logins,
        )
        if not case.uses_pool:
            return inputs, inputs
        warm, run = target.delete_pools(case, connections)
        return dataclasses.replace(inputs, pools=warm), dataclasses.replace(inputs, pools=run)

    def measure(
        self,
        server: Server,
        case: Case,
        inputs: tuple[Inputs, Inputs],
        *,
        connections: int,
        round_: int,
        target: str,
        name: str,
        database: str | None,
        seconds: int,
        warmup: int,
        path: str = "/graphql",
    ) -> dict[str, Any]:
        self.runs += 1
        label = f"{self.runs:03d}-{name}-{database or 'ref'}-c{connections}-r{round_}"
        lua_dir = self.work / "lua"
        common = {"url": server.base, "connections": connections, "timeout": self.args.timeout}
        waited = wait_idle(self.servers())
        self.log(f"{label}: {seconds} s (waited {waited:.1f} s for the servers to idle)")
        try:
            if warmup:
                run_wrk(
                    config=lua_config(case, inputs[0], seed=self.runs * 2, path=path),
                    config_path=lua_dir / f"{label}-warm.lua",
                    seconds=warmup,
                    **common,
                )
                wait_idle(self.servers())  # the warm-up's last requests, still queued
            cpu_before = cpu_seconds([server])
            with RssSampler(server) as sampler:
                summary = run_wrk(
                    config=lua_config(case, inputs[1], seed=self.runs * 2 + 1, path=path),
                    config_path=lua_dir / f"{label}.lua",
                    seconds=seconds,
                    **common,
                )
            # The server's own CPU (every process of it) per answer: steadier than req/s
            # on a shared machine, which the client and the neighbours also load.
            cpu_used = cpu_seconds([server]) - cpu_before
        except WrkError as exc:
            self.log(f"{label}: wrk failed: {exc}")
            summary = _empty_summary(str(exc))
            sampler = None
            cpu_used = 0.0
        if not summary["requests"] and not summary["samples"]:
            summary["samples"] = [
                "no request completed within the run (a slow or overloaded server)"
            ]
        headline = summary["kinds"].get(case.headline, {"p50_ms": None, "p99_ms": None})
        result = {
            "target": target,
            "name": name,
            "database": database,
            "connections": connections,
            "round": round_,
            **summary,
            "headline": {"kind": case.headline, **headline},
            "cpu_us_per_request": (
                round(cpu_used / summary["requests"] * 1e6) if summary["requests"] else None
            ),
            # The server's share of the machine's CPU over the run, beside wrk's.
            "server_cpu_share": (
                round(cpu_used / (summary["wall_seconds"] * (os.cpu_count() or 1)), 3)
                if summary.get("wall_seconds")
                else None
            ),
            "rss_peak_bytes": sampler.peak if sampler else 0,
            "rss_end_bytes": sampler.last if sampler else 0,
            "alive": server.alive(),
        }
        result["status"] = report.classify(result, case.headline)
        self.log(
            f"{label}: {result['rps']:.0f} req/s, p99 {headline.get('p99_ms')} ms, "
            f"{result['failed']} failed -> {result['status']}"
        )
        return result

    def run_cases(self) -> None:
        args = self.args
        for round_ in range(args.rounds):
            for connections in args.connections:
                for reference in self.references:
                    inputs = Inputs(tokens=reference.tokens)
                    self.results.append(
                        self.measure(
                            reference.server,
                            BY_NAME[reference.case],
                            (inputs, inputs),
                            connections=connections,
                            round_=round_,
                            target="reference",
                            name=reference.name,
                            database=reference.database,
                            seconds=args.duration,
                            warmup=args.warmup,
                            path=reference.path,
                        )
                    )
                for case in args.cases:
                    for target in self.targets:
                        target.register(apq_documents(case))
                        self.results.append(
                            self.measure(
                                target.live,
                                case,
                                self._inputs(target, case, connections),
                                connections=connections,
                                round_=round_,
                                target="app",
                                name=case.name,
                                database=target.database,
                                seconds=args.duration,
                                warmup=args.warmup,
                            )
                        )

    def run_streams(self) -> None:
        """The streams case on each database, each subscriber count with users of its own."""
        args = self.args
        for target in self.targets:
            tokens = target.tokens("subscribers")
            for subscribers in args.subscribers:
                users = len(streams.spread(subscribers))
                mine, tokens = tokens[:users], tokens[users:]
                waited = wait_idle(self.servers())
                self.log(
                    f"streams {target.database}: {subscribers} subscribers over {users} users, "
                    f"{args.stream_events} addPosts {args.stream_interval} s apart "
                    f"(waited {waited:.1f} s for the servers to idle)"
                )
                try:
                    result = streams.measure(
                        target.live,
                        mine,
                        subscribers=subscribers,
                        events=args.stream_events,
                        interval=args.stream_interval,
                    )
                except (OSError, RuntimeError, ValueError, EOFError) as exc:
                    # One case's failure is reported; the other cases still run.
                    reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
                    self.log(
                        f"streams {target.database}: {subscribers} subscribers failed: {reason}"
                    )
                    result = {"subscribers": subscribers, "status": "failed", "samples": [reason]}
                result = {"database": target.database, **result}
                self.streams.append(result)
                self.log(
                    f"streams {target.database}: {subscribers} subscribers: p50 "
                    f"{result.get('p50_ms')} ms, p99 {result.get('p99_ms')} ms, "
                    f"{result.get('missing')} missing, {result.get('kib_per_stream')} KiB per "
                    f"stream -> {result['status']}"
                )

    def run_soak(self) -> None:
        for target in self.targets:
            self.soaks.append(self.soak(target))

    def soak(self, target: AppTarget) -> dict[str, Any]:
        """The mix for --soak seconds; is worker RSS flat after the warm-up?"""
        args = self.args
        server = target.live
        seconds = args.soak
        interval = max(1.0, min(5.0, seconds / 30))
        warmup = max(2.0, 0.2 * seconds)
        inputs, _ = self._inputs(target, SOAK_CASE, args.soak_connections)
        wait_idle(self.servers())
        self.log(f"soak {target.database}: {seconds} s at {args.soak_connections} connections")
        caches = functools.partial(cache_bytes, server, target.metrics_token)
        with RssSampler(server, interval=interval, caches=caches) as sampler:
            try:
                summary = run_wrk(
                    url=server.base,
                    config=lua_config(SOAK_CASE, inputs, seed=7),
                    config_path=self.work / "lua" / f"soak-{target.database}.lua",
                    connections=args.soak_connections,
                    seconds=seconds,
                    timeout=args.timeout,
                )
            except WrkError as exc:
                self.log(f"soak {target.database}: wrk failed: {exc}")
                summary = _empty_summary(str(exc))
        series = [(t, sum(workers.values()), workers) for t, _, workers in sampler.samples]
        after = [total for t, total, _ in series if t >= warmup] or [series[-1][1]]
        warm = after[0]
        tail = after[-max(1, len(after) // 4) :]
        end = statistics.median(tail)
        growth = end - warm
        # The "flat": no growth beyond what the caches hold, and they are bounded.
        # What they held, read from /metrics with each RSS sample; a failed read is left
        # out (counted as 0 it would pass RSS growth off as the caches').
        held = [
            b
            for (t, _, _), b in zip(series, sampler.cache_samples, strict=True)
            if t >= warmup and b is not None
        ] or [0]
        cache_growth = statistics.median(held[-max(1, len(held) // 4) :]) - held[0]
        workers = max((len(w) for _, _, w in series), default=1)
        limit = max(8 * MiB * workers, 0.05 * warm)
        outside = growth - max(cache_growth, 0)
        pids = [frozenset(w) for _, _, w in series]
        return {
            "database": target.database,
            "connections": args.soak_connections,
            "seconds": seconds,
            "rps": summary["rps"],
            "failed": summary["failed"],
            "kinds": summary["kinds"],
            "interval": interval,
            "warmup_seconds": round(warmup, 1),
            "warm_mib": round(warm / MiB, 1),
            "end_mib": round(end / MiB, 1),
            "peak_mib": round(max(total for _, total, _ in series) / MiB, 1),
            "growth_mib": round(growth / MiB, 1),
            "cache_end_mib": round(held[-1] / MiB, 1),
            "cache_growth_mib": round(cache_growth / MiB, 1),
            "growth_outside_caches_mib": round(outside / MiB, 1),
            "limit_mib": round(limit / MiB, 1),
            # No answers, no verdict: RSS cannot grow under a load that never ran.
            "flat": (outside <= limit) if summary["requests"] else None,
            "worker_restarts": sum(1 for a, b in itertools.pairwise(pids) if a != b),
            "samples_mib": [round(total / MiB, 1) for _, total, _ in series],
        }

    # ------------------------------------------------------------------ the end

    def close(self) -> None:
        # The two ORM peers of a database share one server.
        for server in {id(ref.server): ref.server for ref in self.references}.values():
            server.stop()
        for target in self.targets:
            target.stop()
            drop_quietly(target)
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)

    def report(self) -> dict[str, Any]:
        args = self.args
        workers = self.targets[0].workers if self.targets else 0
        server = (
            f"WORKERS={args.workers if args.workers is not None else 'launcher default'}, "
            f"THREADS={args.threads if args.threads is not None else 'launcher default'}: "
            f"{workers} worker processes"
        )
        return {
            "meta": {
                "started": self.started.strftime("%Y-%m-%d %H:%M UTC"),
                "finished": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                "machine": _machine(),
                "server": server,
                "reference_workers": workers,
                "reference_labels": {ref.name: ref.label for ref in self.references},
                "reference_same_bytes": self.same_bytes,
                "duration": args.duration,
                "warmup": args.warmup,
                "connections": args.connections,
                "rounds": args.rounds,
                "cases": [case.name for case in args.cases],
                "case_descriptions": {case.name: case.description for case in args.cases},
                "databases": [target.describe() for target in self.targets] + self.skipped,
                "streams": (
                    {
                        "document": streams.SUBSCRIPTION,
                        "subscribers": args.subscribers,
                        "events": args.stream_events,
                        "interval_seconds": args.stream_interval,
                        "max_per_user": streams.MAX_PER_USER,
                        "grace_seconds": streams.GRACE_SECONDS,
                    }
                    if args.streams
                    else None
                ),
                "argv": sys.argv[1:],
            },
            "rows": report.summarise(self.results),
            "results": self.results,
            "streams": self.streams,
            "soak": self.soaks,
        }


def _empty_summary(note: str) -> dict[str, Any]:
    return {
        "seconds": 0.0,
        "requests": 0,
        "rps": 0.0,
        "p50_ms": None,
        "p90_ms": None,
        "p99_ms": None,
        "max_ms": None,
        "bytes": 0,
        "failed": 0,
        "non2xx": 0,
        "graphql_errors": 0,
        "socket_errors": {},
        "timeouts": 0,
        "exhausted": 0,
        "fallbacks": 0,
        "apq_registrations": 0,
        "samples": [note[:300]],
        "kinds": {},
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    wrk_path()
    bench = Bench(args)
    bench.log(f"results in {bench.out}")
    started = time.monotonic()
    try:
        bench.prepare()
        bench.run_cases()
        if args.streams:
            bench.run_streams()
        if args.soak:
            bench.run_soak()
    finally:
        bench.close()
    result = bench.report()
    md, js = report.write(result, bench.out)
    print(md.read_text(encoding="utf-8"))
    bench.log(f"done in {time.monotonic() - started:.0f} s: {md} and {js}")
    return 0
