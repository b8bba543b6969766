"""Live chat under load: simulated customers and agents over real WebSockets.

Starts its own server(s), seeds a shop with two agents, then drives N customers (one socket
and one conversation each) from several client processes at a fixed offered rate:

* embedded: one `uvicorn kefu.asgi:app` process on a temporary SQLite file, no Redis;
* cluster: two web processes on a throwaway PostgreSQL and Redis (tests/fixtures/servers.py);
  customers alternate between the processes and each message is timed at the agent socket
  held by the OTHER process, so every measured message crosses processes through Redis.

Each customer first sends one message (which opens its conversation and routes it), then
sends at `rate / conversations` messages per second for `duration` seconds. A message's
latency runs from the customer's send to the agent socket receiving its event. Lost =
messages sent in the measured window that the agent never received (after a grace period).

The same run then measures a bare relay (a minimal Starlette WebSocket relay, no database,
no auth, written below) with the same clients and load, and prints Kefu's throughput as a
ratio of the relay's. Both run on the same machine as the load generators.

    .venv/bin/python benchmarks/chat_load.py                      # embedded, 1,000 chats
    .venv/bin/python benchmarks/chat_load.py --mode cluster
    .venv/bin/python benchmarks/chat_load.py --rate 500 --duration 30 --clients 3

Last line: `chat_load: msgs_per_s=… p99_ms=… lost=… ratio=…`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("KEFU_SECRET_KEY", "benchmark-secret-key")
os.environ.setdefault("KEFU_ENVIRONMENT", "test")

PASSWORD = "bench-password-42"
CHANNEL = "bench-shop"
WARMUP_S = 12.0  # customers' first messages (conversations open) are spread over this
SETTLE_S = 2.0
GRACE_S = 8.0
DRAIN_S = 120.0
QUIET_S = 5.0
# Set CHAT_LOAD_PY_SPY=/path/to/py-spy to profile the web processes (/tmp/chat_load-server*.txt);
# CHAT_LOAD_TIMELINE=1 prints latency p50/max per second of sending (periodic stalls show up).
SPY = os.environ.get("CHAT_LOAD_PY_SPY", "")
BODIES = ["在吗？", "这件卫衣有 L 码吗", "什么时候发货？", "可以开发票吗", "好的谢谢"]


# --- the bare relay ------------------------------------------------------------------------


def relay_app() -> Any:
    """The floor to compare with: receive, acknowledge, forward to every agent. Nothing else."""
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    agents: set[WebSocket] = set()

    async def customer(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text(json.dumps({"type": "hello"}))
        try:
            while True:
                frame = json.loads(await ws.receive_text())
                if frame.get("type") != "send":
                    continue
                await ws.send_text(json.dumps({"type": "ack", "client_id": frame["client_id"]}))
                event = json.dumps(
                    {
                        "type": "event",
                        "kind": "message",
                        "message": {"client_id": frame["client_id"], "body": frame["body"]},
                    },
                    ensure_ascii=False,
                )
                for agent in list(agents):
                    with contextlib.suppress(Exception):
                        await agent.send_text(event)
        except WebSocketDisconnect:
            pass

    async def agent(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text(json.dumps({"type": "hello"}))
        agents.add(ws)
        try:
            while True:
                await ws.receive_text()
        except WebSocketDisconnect:
            agents.discard(ws)

    return Starlette(
        routes=[
            WebSocketRoute("/api/v1/widget/ws", customer),
            WebSocketRoute("/api/v1/agent/ws", agent),
        ]
    )


# --- servers -------------------------------------------------------------------------------


def free_port() -> int:
    from tests.fixtures.servers import free_port as pick

    return pick()


def wait_healthy(url: str, proc: subprocess.Popen[bytes], path: str = "/healthz") -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + path, timeout=1).status_code < 500:
                return
        time.sleep(0.2)
    raise SystemExit(f"server at {url} did not start")


@contextlib.contextmanager
def web_processes(database_url: str, redis_url: str | None, count: int) -> Iterator[list[str]]:
    env = {**os.environ, "KEFU_DATABASE_URL": database_url, "KEFU_LOG_LEVEL": "WARNING"}
    if redis_url:
        env["KEFU_REDIS_URL"] = redis_url
    procs, urls = [], []
    spies: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(count):
            port = free_port()
            procs.append(
                subprocess.Popen(
                    [
                        *[sys.executable, "-m", "uvicorn", "kefu.asgi:app"],
                        *["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                    ],
                    env=env,
                    cwd=ROOT,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        for url, proc in zip(urls, procs, strict=True):
            wait_healthy(url, proc)
        spies += [
            subprocess.Popen(
                [
                    *[SPY, "record", "--pid", str(proc.pid), "--rate", "100", "--format", "raw"],
                    *["--nonblocking", "-o", f"/tmp/chat_load-server{n}.txt"],
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for n, proc in enumerate(procs)
            if SPY
        ]
        yield urls
    finally:
        for spy in spies:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        stop(procs)


@contextlib.contextmanager
def relay_process() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve-relay", str(port)], cwd=ROOT, env=dict(os.environ)
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, "/")
        yield url
    finally:
        stop([proc])


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


async def seed(database_url: str) -> list[str]:
    """Schema, a shop and two agents who can each hold every chat; returns their usernames."""
    import kefu.models  # noqa: F401
    from kefu.accounts.service import create_user
    from kefu.core.audit import Actor
    from kefu.core.db import Base, Database
    from kefu.store.models import Store

    db = Database(database_url)
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    names = ["agent1", "agent2"]
    async with db.sessionmaker() as session:
        session.add(
            Store(
                code=CHANNEL,
                name="压测旗舰店",
                platform="tmall",
                timezone="Asia/Shanghai",
                webhook_secret="whsec-bench-0123456789abcdef",
                return_address="浙江省杭州市余杭区文一西路 969 号",
                service_phone="0571-88886666",
                # Enough agents online: every chat is routed, nobody waits in a queue.
                settings={"routing": "auto"},
            )
        )
        for n, name in enumerate(names):
            await create_user(
                session,
                Actor.system("bench"),
                username=name,
                password=PASSWORD,
                display_name=f"客服{n + 1}号",
                role="agent",
                max_concurrent_chats=100_000,
            )
        await session.commit()
    await db.dispose()
    return names


async def sign_in(url: str, username: str) -> str:
    import httpx

    async with httpx.AsyncClient(base_url=url) as client:
        page = await client.get("/login")
        token = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
        assert token, "login page has a CSRF token"
        response = await client.post(
            "/login",
            data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)},
        )
        assert response.status_code == 303, response.text
        return f"kefu_session={client.cookies['kefu_session']}"


# --- load generators (child processes) ---------------------------------------------------


def ws_base(url: str) -> str:
    return url.replace("http://", "ws://")


async def run_customers(spec: dict[str, Any], start: float) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    urls: list[str] = spec["urls"]
    first, last = spec["range"]
    per_customer_rate = spec["rate"] / spec["conversations"]
    measure_from = start + WARMUP_S + SETTLE_S
    measure_to = measure_from + spec["duration"]
    sent: dict[str, list[float]] = {}  # client id -> [sent at, acked at, server index]
    retries: list[asyncio.Task[None]] = []
    conns = []

    for i in range(first, last):
        server = i % len(urls)
        params = urlencode({"channel": CHANNEL, "entry": "widget", "name": f"顾客{i}"})
        conn = await connect(
            f"{ws_base(urls[server])}/api/v1/widget/ws?{params}", max_queue=None, open_timeout=60
        )
        await conn.recv()  # hello
        await conn.send('{"type": "resume", "after": 0}')
        conns.append((i, server, conn))
    print("READY", flush=True)
    go = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    start = float(go.split()[1])
    measure_from = start + WARMUP_S + SETTLE_S
    measure_to = measure_from + spec["duration"]

    frames: dict[str, str] = {}  # client id -> the send frame, to resend after an error

    async def resend(conn: Any, client_id: str) -> None:
        await asyncio.sleep(1.0)  # as the widget does: the message stays in its outbox
        with contextlib.suppress(Exception):
            await conn.send(frames[client_id])

    async def read(conn: Any) -> None:
        with contextlib.suppress(Exception):
            async for raw in conn:
                if raw.startswith('{"type": "ack"'):
                    frame = json.loads(raw)
                    record = sent.get(frame["client_id"])
                    if record is not None and record[1] == 0:
                        record[1] = time.time()
                elif raw.startswith('{"type": "error"'):
                    frame = json.loads(raw)
                    if frame.get("client_id") in frames:
                        retries.append(asyncio.create_task(resend(conn, frame["client_id"])))

    async def talk(i: int, server: int, conn: Any) -> None:
        rng = random.Random(i)
        await asyncio.sleep(max(0.0, start + rng.random() * WARMUP_S - time.time()))
        await conn.send(json.dumps({"type": "send", "client_id": f"w{i}", "body": "你好"}))
        at = measure_from + rng.random() / per_customer_rate
        seq = 0
        while at < measure_to:
            await asyncio.sleep(max(0.0, at - time.time()))
            client_id = f"m{i}-{seq}"
            sent[client_id] = [time.time(), 0.0, server]
            frame = {"type": "send", "client_id": client_id, "body": BODIES[seq % len(BODIES)]}
            frames[client_id] = json.dumps(frame, ensure_ascii=False)
            await conn.send(frames[client_id])
            seq += 1
            at += 1 / per_customer_rate

    readers = [asyncio.create_task(read(conn)) for _, _, conn in conns]
    await asyncio.gather(*[talk(i, server, conn) for i, server, conn in conns])
    await asyncio.sleep(max(0.0, measure_to + GRACE_S - time.time()))
    for _, _, conn in conns:
        await conn.close()
    for reader in readers:
        reader.cancel()
    return {"sent": sent}


async def run_agents(spec: dict[str, Any], start: float) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    received: list[dict[str, float]] = [{} for _ in spec["urls"]]
    conns = []
    for n, (url, cookie) in enumerate(zip(spec["urls"], spec["cookies"], strict=True)):
        headers = {"Cookie": cookie, "Origin": url} if cookie else {}
        conn = await connect(
            f"{ws_base(url)}/api/v1/agent/ws", additional_headers=headers, max_queue=None
        )
        await conn.recv()  # hello
        await conn.send('{"type": "resume", "after": 0}')
        conns.append((n, conn))
    print("READY", flush=True)
    go = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    start = float(go.split()[1])
    until = start + WARMUP_S + SETTLE_S + spec["duration"] + GRACE_S

    async def read(n: int, conn: Any) -> None:
        seen = received[n]
        with contextlib.suppress(Exception):
            async for raw in conn:
                frame = json.loads(raw)
                if frame.get("type") == "ping":
                    await conn.send('{"type": "pong"}')
                elif frame.get("type") == "event" and frame.get("kind") == "message":
                    client_id = frame["message"]["client_id"]
                    if client_id not in seen:
                        seen[client_id] = time.time()

    readers = [asyncio.create_task(read(n, conn)) for n, conn in conns]
    await asyncio.sleep(max(0.0, until - time.time()))
    # An overloaded server delivers late, not never: wait until nothing new arrived for a
    # while, so "lost" counts only what never comes.
    deadline = time.time() + DRAIN_S
    while time.time() < deadline:
        newest = max((max(r.values(), default=0.0) for r in received), default=0.0)
        if time.time() - newest > QUIET_S:
            break
        await asyncio.sleep(0.5)
    for _, conn in conns:
        await conn.close()
    for reader in readers:
        reader.cancel()
    return {"received": received}


def client_main(spec_json: str) -> None:
    spec = json.loads(spec_json)
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    runner = run_agents if spec["role"] == "agents" else run_customers
    result = asyncio.run(runner(spec, 0.0))
    Path(spec["out"]).write_text(json.dumps(result))
    print("DONE", flush=True)


# --- one measured run ----------------------------------------------------------------------


async def drive(urls: list[str], cookies: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """Connect everyone, run the load, collect and score what the clients saw."""
    base = {"urls": urls, "rate": args.rate, "conversations": args.conversations}
    base["duration"] = args.duration
    specs = [{**base, "role": "agents", "cookies": cookies}]
    per = args.conversations // args.clients
    for c in range(args.clients):
        last = args.conversations if c == args.clients - 1 else (c + 1) * per
        specs.append({**base, "role": "customers", "range": [c * per, last]})
    outdir = Path(tempfile.mkdtemp(prefix="kefu-chatload-out-"))
    for n, spec in enumerate(specs):
        spec["out"] = str(outdir / f"client{n}.json")
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--client",
            json.dumps(spec),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
        )
        for spec in specs
    ]
    connect_started = time.time()
    for proc in procs:
        assert proc.stdout is not None
        line = await proc.stdout.readline()
        if not line.startswith(b"READY"):
            raise SystemExit(f"a client failed to connect: {line!r}")
    connect_s = time.time() - connect_started
    start = time.time() + 1.0
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(f"GO {start}\n".encode())
        await proc.stdin.drain()
    results = []
    for proc, spec in zip(procs, specs, strict=True):
        await proc.wait()
        with open(spec["out"]) as out:  # noqa: ASYNC230 - the clients are done
            results.append(json.load(out))
    shutil.rmtree(outdir, ignore_errors=True)
    received: list[dict[str, float]] = results[0]["received"]
    sent: dict[str, list[float]] = {}
    for r in results[1:]:
        sent.update(r["sent"])
    latencies, lost, unacked = [], 0, 0
    last_receipt = 0.0
    for client_id, (at, acked, server) in sent.items():
        # Timed at the agent on the other process when there are two.
        watcher = received[(int(server) + 1) % len(received)]
        got = watcher.get(client_id)
        if got is None:
            # Stored (acknowledged) but never shown to the agent: lost. Not acknowledged when
            # the customers hung up: still queued at an overloaded server (a real client
            # keeps it in its outbox and resends it).
            lost += 1 if acked else 0
        else:
            latencies.append((got - at) * 1000)
            last_receipt = max(last_receipt, got)
        if not acked:
            unacked += 1
    first_send = min((v[0] for v in sent.values()), default=start)
    if os.environ.get("CHAT_LOAD_TIMELINE"):
        per_s: dict[int, list[float]] = {}
        for client_id, (at, _acked, server) in sent.items():
            got = received[(int(server) + 1) % len(received)].get(client_id)
            if got is not None:
                per_s.setdefault(int(at - first_send), []).append((got - at) * 1000)
        for sec in sorted(per_s):
            v = sorted(per_s[sec])
            print(f"  t={sec:3d}s n={len(v)} p50={v[len(v) // 2]:.0f} max={v[-1]:.0f}")
    window = max(args.duration, last_receipt - first_send)
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else 0.0

    return {
        "sent": len(sent),
        "delivered": len(latencies),
        "msgs_per_s": len(latencies) / window if latencies else 0.0,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": latencies[-1] if latencies else 0.0,
        "mean_ms": statistics.fmean(latencies) if latencies else 0.0,
        "lost": lost,
        "unacked": unacked,
        "connect_s": connect_s,
    }


async def measure_kefu(args: argparse.Namespace) -> dict[str, Any]:
    workdir = tempfile.mkdtemp(prefix="kefu-chatload-")
    try:
        if args.mode == "embedded":
            database_url = f"sqlite+aiosqlite:///{workdir}/kefu.db"
            agents = await seed(database_url)
            with web_processes(database_url, None, 1) as urls:
                cookies = [await sign_in(urls[0], agents[0])]
                return await drive(urls, cookies, args)
        from tests.fixtures.servers import postgres_server, redis_server

        with postgres_server() as database_url, redis_server() as redis_url:
            agents = await seed(database_url)
            with web_processes(database_url, redis_url, 2) as urls:
                cookies = [await sign_in(url, name) for url, name in zip(urls, agents, strict=True)]
                return await drive(urls, cookies, args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def measure_relay(args: argparse.Namespace) -> dict[str, Any]:
    with relay_process() as url:
        return await drive([url], [""], args)


def describe(name: str, r: dict[str, Any]) -> str:
    return (
        f"{name}: {r['msgs_per_s']:.0f} msgs/s delivered ({r['delivered']}/{r['sent']}), "
        f"latency p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.0f} ms, "
        f"lost {r['lost']}, not acknowledged {r['unacked']}, connect {r['connect_s']:.1f} s"
    )


async def main_async(args: argparse.Namespace) -> None:
    print(
        f"chat_load ({args.mode}): {args.conversations} conversations, offered "
        f"{args.rate:.0f} msgs/s for {args.duration:.0f} s, {args.clients} customer processes, "
        f"cpus={os.cpu_count()}, load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    ours = await measure_kefu(args)
    print(describe(f"kefu {args.mode}", ours), flush=True)
    relay = await measure_relay(args)
    print(describe("bare relay", relay), flush=True)
    ratio = ours["msgs_per_s"] / relay["msgs_per_s"] if relay["msgs_per_s"] else 0.0
    print(
        f"chat_load: msgs_per_s={ours['msgs_per_s']:.0f} p99_ms={ours['p99_ms']:.1f} "
        f"lost={ours['lost']} ratio={ratio:.2f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=["embedded", "cluster"], default="embedded")
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=1000.0, help="offered msgs/s in total")
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds")
    parser.add_argument("--clients", type=int, default=2, help="customer load processes")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--serve-relay", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client_main(args.client)
        return
    if args.serve_relay:
        import uvicorn

        uvicorn.run(relay_app(), host="127.0.0.1", port=args.serve_relay, log_level="warning")
        return
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
