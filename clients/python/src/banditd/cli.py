"""banditctl: banditd from the command line.

    banditctl rooms create home red green blue --policy thompson
    banditctl sample home -k 2
    banditctl feedback home red --views 1 --clicks 1
    banditctl feedback --file events.csv --batch-size 1000
    banditctl stats home --format csv
    banditctl watch home

The server is --target (or $BANDITD_TARGET, default localhost:50051); a token
comes from --token or $BANDITD_TOKEN, a CA certificate for TLS from --tls-ca.
Errors print the server's message and exit 1; bad usage exits 2.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, TextIO

from ._client import Client
from ._errors import BanditdError
from ._ops import DEFAULT_TARGET
from ._types import FeedbackEvent, Room, Stats

FORMATS = ("table", "json", "csv")


# -- output ----------------------------------------------------------------


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        return f"{value:.6g}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def write_rows(rows: List[Dict[str, Any]], fmt: str, out: TextIO,
               columns: Optional[Sequence[str]] = None) -> None:
    """Prints rows (dicts with the same keys) as an aligned table, a JSON
    array or CSV with a header."""
    cols = list(columns or (rows[0].keys() if rows else []))
    if fmt == "json":
        out.write(json.dumps(rows, indent=2, default=str) + "\n")
        return
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=cols, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return
    cells = [[_cell(r.get(c, "")) for c in cols] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
    numeric = [all(isinstance(r.get(c), (int, float)) and not isinstance(r.get(c), bool)
                   for r in rows) and rows for c in cols]
    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric)).rstrip()
    out.write(line(cols) + "\n")
    for row in cells:
        out.write(line(row) + "\n")


def room_rows(rooms: Iterable[Room]) -> List[Dict[str, Any]]:
    return [{
        "room_id": r.room_id,
        "policy": r.policy.type.name.lower(),
        "arms": r.arm_count,
        "enabled": len(r.enabled_arm_ids),
        "arm_ids": " ".join(r.arm_ids),
    } for r in rooms]


def stats_rows(stats: Stats) -> List[Dict[str, Any]]:
    total = stats.total_views or 0.0
    return [{
        "arm_id": a.arm_id,
        "enabled": a.enabled,
        "views": a.counts.views,
        "clicks": a.counts.clicks,
        "ctr": a.ctr,
        "share": a.counts.views / total if total else 0.0,
        "ucb1": a.ucb1,
        "bucb": a.bucb,
        "reward_mean": a.reward_mean,
    } for a in stats.arms]


# -- feedback files ----------------------------------------------------------

EVENT_FIELDS = ("room_id", "arm_id", "views", "clicks", "reward", "segment",
                "context", "event_id", "decision_id")


def _event(record: Dict[str, Any], default_room: str, where: str) -> FeedbackEvent:
    unknown = set(record) - set(EVENT_FIELDS) - {"context_items"}
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}; "
                         f"expected {', '.join(EVENT_FIELDS)}")
    context = record.get("context", record.get("context_items", ())) or ()
    if isinstance(context, str):
        context = [c for c in context.replace(";", "|").split("|") if c]
    reward = record.get("reward")
    try:
        return FeedbackEvent(
            room_id=str(record.get("room_id") or default_room),
            arm_id=str(record.get("arm_id") or ""),
            views=int(record.get("views") or 0),
            clicks=int(record.get("clicks") or 0),
            reward=None if reward in (None, "") else float(reward),
            segment=str(record.get("segment") or ""),
            context=list(context),
            event_id=str(record.get("event_id") or ""),
            decision_id=str(record.get("decision_id") or ""),
        )
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: {e}") from None


def read_events(path: str, default_room: str) -> Iterator[FeedbackEvent]:
    """Events from a CSV file (a header row names the columns; context items
    are separated by '|') or a JSON-lines file (one object per line), by the
    extension (.csv, .jsonl/.ndjson/.json); '-' reads JSON lines from stdin."""
    is_csv = path.lower().endswith(".csv")
    stream = sys.stdin if path == "-" else open(path, newline="" if is_csv else None)
    with stream:
        if is_csv:
            for n, row in enumerate(csv.DictReader(stream), start=2):
                yield _event({k: v for k, v in row.items() if k}, default_room,
                             f"{path}:{n}")
        else:
            for n, text in enumerate(stream, start=1):
                if text.strip():
                    try:
                        record = json.loads(text)
                    except json.JSONDecodeError as e:
                        raise ValueError(f"{path}:{n}: {e}") from None
                    yield _event(record, default_room, f"{path}:{n}")


def batches(events: Iterable[FeedbackEvent], size: int) -> Iterator[List[FeedbackEvent]]:
    batch: List[FeedbackEvent] = []
    for e in events:
        batch.append(e)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class Progress:
    """A one-line progress counter on stderr (only when it is a terminal, or
    forced), redrawn at most 10 times a second."""

    def __init__(self, enabled: bool, out: TextIO) -> None:
        self.enabled = enabled
        self.out = out
        self.start = time.monotonic()
        self.last = 0.0

    def update(self, events: int, final: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not final and now - self.last < 0.1):
            return
        self.last = now
        rate = events / max(now - self.start, 1e-9)
        self.out.write(f"\rfeedback: {events} events sent ({rate:,.0f}/s)")
        if final:
            self.out.write("\n")
        self.out.flush()


# -- commands ----------------------------------------------------------------


def cmd_rooms(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    if args.action == "list":
        write_rows(room_rows(client.iter_rooms(view="full")), args.format, out,
                   ["room_id", "policy", "arms", "enabled", "arm_ids"])
    elif args.action == "get":
        room = client.get_room(args.room)
        if args.format == "table":
            out.write(f"room {room.room_id}: policy {room.policy.type.name.lower()}\n")
            write_rows([{"arm_id": a.arm_id, "enabled": a.enabled} for a in room.arms],
                       "table", out, ["arm_id", "enabled"])
        else:
            write_rows(room_rows([room]), args.format, out)
    elif args.action == "create":
        policy: Any = None
        if args.policy or args.param:
            policy = {"type": args.policy or "unspecified"}
            for p in args.param:
                key, _, value = p.partition("=")
                if not _:
                    raise ValueError(f"--param {p!r}: expected name=value")
                policy[key.replace("-", "_")] = float(value)
        room = client.create_room(args.room, args.arms, policy=policy)
        out.write(f"created room {room.room_id} with {len(room.arms)} arm(s), "
                  f"policy {room.policy.type.name.lower()}\n")
    elif args.action == "delete":
        client.delete_room(args.room)
        out.write(f"deleted room {args.room}\n")
    elif args.action == "reset":
        client.reset_room(args.room)
        out.write(f"reset room {args.room}\n")
    return 0


def cmd_arms(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    if args.action == "add":
        room = client.add_arms(args.room, args.arms)
        out.write(f"added {len(args.arms)} arm(s) to {args.room}: it has {room.arm_count}\n")
    elif args.action == "remove":
        for arm in args.arms:
            client.remove_arm(args.room, arm)
        out.write(f"removed {' '.join(args.arms)} from {args.room}\n")
    else:
        enabled = args.action == "enable"
        for arm in args.arms:
            client.set_arm_enabled(args.room, arm, enabled)
        out.write(f"{'enabled' if enabled else 'disabled'} {' '.join(args.arms)} "
                  f"in {args.room}\n")
    return 0


def cmd_sample(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    result = client.sample(args.room, args.k, segment=args.segment, context=args.context,
                           policy=args.policy or None, seed=args.seed)
    if args.format == "table" and not args.verbose:
        out.write("\n".join(result.arm_ids) + "\n")
        return 0
    rows = [{"rank": i + 1, "arm_id": a.arm_id, "score": a.score, "views": a.counts.views,
             "clicks": a.counts.clicks, "decision_id": result.decision_id}
            for i, a in enumerate(result.arms)]
    write_rows(rows, args.format, out,
               ["rank", "arm_id", "score", "views", "clicks", "decision_id"])
    return 0


def cmd_feedback(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    if args.file:
        if args.arm:
            raise ValueError("give either ROOM ARM or --file, not both")
        progress = Progress(args.progress if args.progress is not None
                            else sys.stderr.isatty(), sys.stderr)
        applied = duplicates = sent = 0
        for batch in batches(read_events(args.file, args.room or ""), args.batch_size):
            result = client.feedback_batch(batch)
            applied += result.applied_events
            duplicates += result.duplicate_events
            sent += len(batch)
            progress.update(sent)
        progress.update(sent, final=True)
        out.write(f"{sent} events sent: {applied} applied, {duplicates} duplicate\n")
        return 0
    if not args.room or not args.arm:
        raise ValueError("feedback needs ROOM and ARM, or --file")
    result = client.feedback(args.room, args.arm, views=args.views, clicks=args.clicks,
                             reward=args.reward, segment=args.segment,
                             context=args.context, event_id=args.event_id,
                             decision_id=args.decision_id)
    out.write(f"{result.applied_events} applied, {result.duplicate_events} duplicate\n")
    return 0


def cmd_stats(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    stats = client.stats(args.room, args.segment)
    rows = stats_rows(stats)
    if args.format == "table":
        where = f", segment {stats.segment!r}" if stats.segment else ""
        out.write(f"room {stats.room_id}{where}: {_cell(stats.total_views)} views\n")
    write_rows(rows, args.format, out,
               ["arm_id", "enabled", "views", "clicks", "ctr", "share", "ucb1", "bucb",
                "reward_mean"])
    return 0


def cmd_watch(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    clear = out.isatty()
    n = 0
    try:
        while args.count <= 0 or n < args.count:
            if n:
                time.sleep(args.interval)
            buffer = io.StringIO()
            buffer.write(f"{time.strftime('%H:%M:%S')}  every {args.interval:g}s, "
                         "Ctrl-C stops\n")
            args.format = "table"
            cmd_stats(client, args, buffer)
            out.write(("\033[H\033[2J" if clear else "") + buffer.getvalue())
            out.flush()
            n += 1
    except KeyboardInterrupt:
        pass
    return 0


# -- parser ------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="banditctl", description="banditd from the command line.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Environment: BANDITD_TARGET, BANDITD_TOKEN.")
    p.add_argument("--target", default=os.environ.get("BANDITD_TARGET", DEFAULT_TARGET),
                   help="host:port of banditd's gRPC port (default %(default)s)")
    p.add_argument("--token", default=os.environ.get("BANDITD_TOKEN"),
                   help="bearer token (--auth_tokens_file on the server)")
    p.add_argument("--tls-ca", metavar="PEM",
                   help="CA certificate: connect with TLS, trusting it")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per call")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def fmt(q: argparse.ArgumentParser) -> None:
        q.add_argument("--format", choices=FORMATS, default="table")

    rooms = sub.add_parser("rooms", help="list, get, create, delete or reset rooms")
    rsub = rooms.add_subparsers(dest="action", required=True, metavar="ACTION")
    fmt(rsub.add_parser("list", help="every room"))
    q = rsub.add_parser("get", help="a room's arms and policy")
    q.add_argument("room")
    fmt(q)
    q = rsub.add_parser("create", help="a room with its arms")
    q.add_argument("room")
    q.add_argument("arms", nargs="*")
    q.add_argument("--policy", help="ucb1 (default), thompson, ctr, bucb, ...")
    q.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="a policy parameter, e.g. ucb_alpha=0.5 (repeatable)")
    for action in ("delete", "reset"):
        q = rsub.add_parser(action, help=f"{action} a room")
        q.add_argument("room")
    rooms.set_defaults(func=cmd_rooms)

    arms = sub.add_parser("arms", help="add, remove, enable or disable arms")
    asub = arms.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action in ("add", "remove", "enable", "disable"):
        q = asub.add_parser(action, help=f"{action} arms of a room")
        q.add_argument("room")
        q.add_argument("arms", nargs="+")
    arms.set_defaults(func=cmd_arms)

    q = sub.add_parser("sample", help="rank a room's arms; prints the top k")
    q.add_argument("room")
    q.add_argument("-k", type=int, default=1)
    q.add_argument("--segment", default="")
    q.add_argument("--context", nargs="*", default=[], metavar="ITEM")
    q.add_argument("--policy", help="override the room's policy for this call")
    q.add_argument("--seed", type=int)
    q.add_argument("-v", "--verbose", action="store_true", help="scores and counters too")
    fmt(q)
    q.set_defaults(func=cmd_sample)

    q = sub.add_parser("feedback", help="report views and clicks (one event or a file)")
    q.add_argument("room", nargs="?", help="the room (with --file: for rows without room_id)")
    q.add_argument("arm", nargs="?")
    q.add_argument("--views", type=int, default=0)
    q.add_argument("--clicks", type=int, default=0)
    q.add_argument("--reward", type=float)
    q.add_argument("--segment", default="")
    q.add_argument("--context", nargs="*", default=[], metavar="ITEM")
    q.add_argument("--event-id", default="")
    q.add_argument("--decision-id", default="")
    q.add_argument("--file", help="events from CSV (.csv) or JSON lines (.jsonl, - = stdin)")
    q.add_argument("--batch-size", type=int, default=1000,
                   help="events per Feedback call (each batch is atomic)")
    q.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress on stderr (default: when it is a terminal)")
    q.set_defaults(func=cmd_feedback)

    q = sub.add_parser("stats", help="per-arm counters and scores")
    q.add_argument("room")
    q.add_argument("--segment", default="")
    fmt(q)
    q.set_defaults(func=cmd_stats)

    q = sub.add_parser("watch", help="a stats table refreshed every --interval seconds")
    q.add_argument("room")
    q.add_argument("--segment", default="")
    q.add_argument("--interval", type=float, default=2.0)
    q.add_argument("--count", type=int, default=0, help="stop after N tables (0: never)")
    q.set_defaults(func=cmd_watch)
    return p


def main(argv: Optional[Sequence[str]] = None, out: Optional[TextIO] = None) -> int:
    args = build_parser().parse_args(argv)
    out = out or sys.stdout
    roots = None
    if args.tls_ca:
        with open(args.tls_ca, "rb") as f:
            roots = f.read()
    try:
        with Client(args.target, timeout=args.timeout, token=args.token,
                    root_certificates=roots) as client:
            return int(args.func(client, args, out))
    except BanditdError as e:
        print(f"banditctl: {e}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as e:
        print(f"banditctl: {e}", file=sys.stderr)
        return 2 if isinstance(e, ValueError) else 1


if __name__ == "__main__":
    sys.exit(main())
