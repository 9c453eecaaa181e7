#!/usr/bin/env python3
"""MUPDATE load and measurement client for scripts/bench_mupdate.sh (Python 3 stdlib only).

It speaks MUPDATE the way Cyrus clients do (SASL PLAIN with a `{n+}` literal initial response,
every string argument as a `{n+}` literal), so the same client drives our master and Cyrus's.

Subcommands (each prints one JSON object on stdout):

  pairs   --port P --clients 4 --n 10000 --prefix user.p
          RESERVE then ACTIVATE n mailboxes from `clients` concurrent connections, each waiting
          for every answer before sending the next command (what a backend does).
  load    --port P --n 1000000 --conns 100 --depth 200 --prefix user.u
          ACTIVATE n mailboxes as fast as possible: `conns` connections, each keeping up to
          `depth` commands in flight (pipelining).
  count   --port P             LIST, and count the records.
  ready   --port P --timeout S connect repeatedly until the banner's `* OK` line arrives
                               (a slave only serves after its first sync); prints the time.
  attach  --port P --streams 10 --pidfile F
          open `streams` UPDATE connections, drain their dumps, print when all are streaming,
          then measure /proc/<pid>/status of the pid in F, and keep the streams open until
          stdin closes.
  cyrusflat --n N --prefix user.u  the same mailboxes as `load`, as a Cyrus 3.6 mailboxes.db in
                                   the `flat` backend (for `cvt_cyrusdb ... flat ... twoskip`),
                                   the way a Cyrus master stores MUPDATE entries.
"""

import argparse
import asyncio
import base64
import json
import re
import socket
import sys
import time

ACL = "owner\tlrswipkxtecdan\t"
LITERAL_END = re.compile(rb"\{(\d+)\+?\}\r?\n$")


def lit(s):
    b = s.encode()
    return b"{%d+}\r\n%s" % (len(b), b)


def location(i):
    return "be%d!default" % (i % 4 + 1)


class Conn:
    """One MUPDATE connection over asyncio streams."""

    def __init__(self, reader, writer):
        self.r, self.w = reader, writer

    @classmethod
    async def open(cls, port, user, password, host="127.0.0.1"):
        r, w = await asyncio.open_connection(host, port, limit=1 << 20)
        c = cls(r, w)
        while True:
            line = await r.readline()
            if not line:
                raise ConnectionError("closed during the banner")
            if line.upper().startswith(b"* OK"):
                break
        ir = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode())
        w.write(b'A01 AUTHENTICATE "PLAIN" {%d+}\r\n%s\r\n' % (len(ir), ir))
        line = await r.readline()
        if not line.startswith(b"A01 OK"):
            raise ConnectionError("authentication refused: %r" % line)
        return c

    async def message(self):
        """One server message, with its literals, as bytes."""
        line = await self.r.readline()
        if not line:
            raise ConnectionError("connection closed")
        out = [line]
        while True:
            m = LITERAL_END.search(line)
            if not m:
                return b"".join(out)
            out.append(await self.r.readexactly(int(m.group(1))))
            line = await self.r.readline()
            out.append(line)

    async def command(self, tag, body):
        self.w.write(tag + b" " + body + b"\r\n")
        await self.w.drain()
        while True:
            msg = await self.message()
            if msg.startswith(tag + b" OK"):
                return
            if msg.startswith(tag + b" NO") or msg.startswith(tag + b" BAD"):
                raise RuntimeError(msg.decode(errors="replace").strip())

    async def close(self):
        try:
            self.w.write(b"Q01 LOGOUT\r\n")
            await self.w.drain()
            self.w.close()
        except Exception:
            pass


async def cmd_pairs(a):
    per = a.n // a.clients

    async def client(k):
        c = await Conn.open(a.port, a.user, a.password)
        for i in range(per):
            name = lit("%s%dn%07d" % (a.prefix, k, i))
            loc = lit(location(k))
            await c.command(b"X%d" % (2 * i), b"RESERVE " + name + b" " + loc)
            await c.command(b"X%d" % (2 * i + 1), b"ACTIVATE " + name + b" " + loc + b" " + lit(ACL))
        await c.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(a.clients)))
    dt = time.perf_counter() - t0
    n = per * a.clients
    return {"pairs": n, "clients": a.clients, "seconds": round(dt, 3), "pairs_per_s": round(n / dt, 1)}


async def cmd_load(a):
    next_i = [a.start]
    end = a.start + a.n

    async def conn():
        c = await Conn.open(a.port, a.user, a.password)
        inflight = 0
        sent = 0
        while True:
            # Fill the pipeline, then read answers as they come.
            buf = []
            while inflight < a.depth and next_i[0] < end:
                i = next_i[0]
                next_i[0] += 1
                buf.append(b"X%d ACTIVATE %s %s %s\r\n" % (sent, lit("%s%07d" % (a.prefix, i)), lit(location(i)), lit(ACL)))
                sent += 1
                inflight += 1
            if buf:
                c.w.write(b"".join(buf))
                await c.w.drain()
            if inflight == 0:
                break
            line = await c.r.readline()
            if not line:
                raise ConnectionError("closed while loading")
            if b" OK" not in line:
                raise RuntimeError("refused: %r" % line)
            inflight -= 1
        await c.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(conn() for _ in range(a.conns)))
    dt = time.perf_counter() - t0
    return {"loaded": a.n, "conns": a.conns, "depth": a.depth, "seconds": round(dt, 3),
            "per_s": round(a.n / dt, 1)}


async def cmd_count(a):
    c = await Conn.open(a.port, a.user, a.password)
    c.w.write(b"X1 LIST\r\n")
    await c.w.drain()
    n = 0
    t0 = time.perf_counter()
    while True:
        msg = await c.message()
        if msg.startswith(b"X1 OK"):
            break
        if msg.startswith(b"X1 MAILBOX") or msg.startswith(b"X1 RESERVE"):
            n += 1
        elif not msg.startswith(b"X1 "):
            raise RuntimeError(msg)
    await c.close()
    return {"count": n, "list_seconds": round(time.perf_counter() - t0, 3)}


def cmd_ready(a):
    t0 = time.perf_counter()
    deadline = t0 + a.timeout
    while time.perf_counter() < deadline:
        try:
            s = socket.create_connection(("127.0.0.1", a.port), timeout=a.timeout)
        except OSError:
            time.sleep(0.01)
            continue
        s.settimeout(max(0.1, deadline - time.perf_counter()))
        data = b""
        try:
            while b"* OK" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        s.close()
        if b"* OK" in data:
            return {"ready_after_s": round(time.perf_counter() - t0, 3)}
        time.sleep(0.01)
    return {"ready_after_s": None}


def status_kib(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                out[k + "_kib"] = int(v.split()[0])
    return out


async def cmd_attach(a):
    conns = []
    t0 = time.perf_counter()

    async def stream():
        c = await Conn.open(a.port, a.user, a.password)
        c.w.write(b"U01 UPDATE\r\n")
        await c.w.drain()
        tail = b""
        marker = b'U01 OK "streaming starts"'
        while marker not in tail:
            chunk = await c.r.read(1 << 20)
            if not chunk:
                raise ConnectionError("closed during the dump")
            tail = (tail + chunk)[-64:]
        conns.append(c)

    await asyncio.gather(*(stream() for _ in range(a.streams)))
    dumped = time.perf_counter() - t0
    with open(a.pidfile) as f:
        pid = int(f.read().strip())
    res = {"streams": len(conns), "all_dumps_s": round(dumped, 3), "pid": pid}
    res.update(status_kib(pid))
    print(json.dumps(res), flush=True)
    # Keep streaming (and draining) until our stdin closes.
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    for c in conns:
        await c.close()
    return None


def cmd_cyrusflat(a):
    # Key: "N" + the dbname (hierarchy separator as 0x1f); value: Cyrus's dlist, as a Cyrus
    # master writes for an ACTIVATE (type "er", no uniqueid). Sorted, as the flat backend keeps it.
    out = sys.stdout
    rows = []
    for i in range(a.start, a.start + a.n):
        name = "%s%07d" % (a.prefix, i)
        server, part = location(i).split("!")
        rows.append("N%s\t%%(T er P %s S %s M 1700000000 A %%(owner lrswipkxtecdan))\n"
                    % (name.replace(".", "\x1f"), part, server))
    rows.sort()
    out.writelines(rows)
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cmd", choices=["pairs", "load", "count", "ready", "attach", "cyrusflat"])
    p.add_argument("--port", type=int)
    p.add_argument("--user", default="mupduser")
    p.add_argument("--password", default="secret")
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--prefix", default="user.u")
    p.add_argument("--conns", type=int, default=100)
    p.add_argument("--depth", type=int, default=200)
    p.add_argument("--streams", type=int, default=10)
    p.add_argument("--pidfile")
    p.add_argument("--timeout", type=float, default=600)
    a = p.parse_args()
    if a.cmd == "ready":
        res = cmd_ready(a)
    elif a.cmd == "cyrusflat":
        res = cmd_cyrusflat(a)
    else:
        res = asyncio.run({"pairs": cmd_pairs, "load": cmd_load, "count": cmd_count,
                           "attach": cmd_attach}[a.cmd](a))
    if res is not None:
        print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
