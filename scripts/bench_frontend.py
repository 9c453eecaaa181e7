#!/usr/bin/env python3
"""Load generators for scripts/bench_frontend.sh (stdlib only).

  imap HOST:PORT SECS CLIENTS USERS PASSWORD
      CLIENTS concurrent sessions in a loop: LOGIN, SELECT INBOX, FETCH 1:10 (FLAGS ENVELOPE),
      LOGOUT, each on a new connection, users taken in turn from USERS (comma-separated).
      Prints a JSON line: sessions/s, errors, latency percentiles.
  idle HOST:PORT COUNT USERS PASSWORD PID
      opens COUNT sessions (LOGIN, SELECT INBOX, so the proxy holds a backend connection each),
      leaves them idle and prints the RSS of PID before and after, per session.
  lmtp HOST:PORT SECS CONNS USERS [AUTHUSER AUTHPW]
      CONNS connections, each delivering one 1 KB message to one user per transaction in a loop.
      Prints a JSON line: deliveries/s, errors.
"""
import asyncio
import base64
import json
import sys
import time


async def read_line(r):
    line = await r.readline()
    if not line:
        raise ConnectionError("closed")
    # A literal at the end of a line: its bytes, then the rest of the line.
    while line.endswith(b"}\r\n") and b"{" in line:
        n = line[line.rindex(b"{") + 1:-3].rstrip(b"+")
        if not n.isdigit():
            break
        line += await r.readexactly(int(n))
        more = await r.readline()
        if not more:
            raise ConnectionError("closed")
        line += more
    return line


async def command(r, w, tag, text):
    w.write(b"%s %s\r\n" % (tag, text))
    await w.drain()
    prefix = tag + b" "
    while True:
        line = await read_line(r)
        if line.startswith(prefix):
            if not line[len(prefix):].startswith(b"OK"):
                raise RuntimeError(line.decode(errors="replace").strip())
            return


async def session(host, port, user, pw, keep=False):
    r, w = await asyncio.open_connection(host, port)
    greeting = await read_line(r)
    if not greeting.startswith(b"* OK"):
        raise RuntimeError(greeting.decode(errors="replace"))
    await command(r, w, b"a", b"LOGIN %s %s" % (user.encode(), pw.encode()))
    await command(r, w, b"b", b"SELECT INBOX")
    if keep:
        return r, w
    await command(r, w, b"c", b"FETCH 1:10 (FLAGS ENVELOPE)")
    await command(r, w, b"d", b"LOGOUT")
    w.close()
    try:
        await w.wait_closed()
    except Exception:
        pass
    return None


def addr(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)


async def imap_bench(target, secs, clients, users, pw):
    host, port = addr(target)
    end = time.monotonic() + secs
    done, errors, lat = [0], [0], []
    first_error = []

    async def worker(i):
        n = i
        while time.monotonic() < end:
            t0 = time.monotonic()
            try:
                await session(host, port, users[n % len(users)], pw)
                done[0] += 1
                lat.append(time.monotonic() - t0)
            except Exception as e:
                errors[0] += 1
                if not first_error:
                    first_error.append(repr(e))
                await asyncio.sleep(0.01)
            n += clients

    t0 = time.monotonic()
    await asyncio.gather(*(worker(i) for i in range(clients)))
    elapsed = time.monotonic() - t0
    lat.sort()
    pct = lambda p: round(1000 * lat[min(len(lat) - 1, int(p * len(lat)))], 1) if lat else None
    print(json.dumps({
        "target": target, "clients": clients, "secs": round(elapsed, 2),
        "sessions": done[0], "sessions_per_s": round(done[0] / elapsed, 1),
        "errors": errors[0], "first_error": first_error[0] if first_error else None,
        "p50_ms": pct(0.5), "p95_ms": pct(0.95),
    }))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def idle_bench(target, count, users, pw, pid):
    host, port = addr(target)
    # Warm up: a few sessions so allocator arenas and caches exist before the baseline.
    for i in range(5):
        await session(host, port, users[i % len(users)], pw)
    await asyncio.sleep(0.5)
    before = rss_kib(pid)
    conns = []
    for i in range(count):
        conns.append(await session(host, port, users[i % len(users)], pw, keep=True))
    await asyncio.sleep(1.0)
    after = rss_kib(pid)
    print(json.dumps({
        "target": target, "idle_sessions": count, "rss_before_kib": before,
        "rss_after_kib": after, "kib_per_session": round((after - before) / count, 1),
    }))
    for r, w in conns:
        w.close()


async def lmtp_reply(r):
    while True:
        line = await r.readline()
        if not line:
            raise ConnectionError("closed")
        if line[3:4] != b"-":
            return line


async def lmtp_bench(target, secs, conns, users, auth):
    host, port = addr(target)
    body = b"From: bench@example.org\r\nSubject: bench\r\n\r\n" + (b"x" * 70 + b"\r\n") * 13 + b".\r\n"
    end = time.monotonic() + secs
    done, errors, first_error = [0], [0], []

    async def worker(i):
        n = i
        while time.monotonic() < end:
            try:
                r, w = await asyncio.open_connection(host, port)
                await lmtp_reply(r)
                w.write(b"LHLO bench\r\n")
                await lmtp_reply(r)
                if auth:
                    ir = base64.b64encode(b"\0%s\0%s" % (auth[0].encode(), auth[1].encode()))
                    w.write(b"AUTH PLAIN " + ir + b"\r\n")
                    rep = await lmtp_reply(r)
                    if not rep.startswith(b"235"):
                        raise RuntimeError(rep)
                while time.monotonic() < end:
                    u = users[n % len(users)]
                    n += conns
                    w.write(b"MAIL FROM:<bench@example.org>\r\nRCPT TO:<%s>\r\nDATA\r\n" % u.encode())
                    for want in (b"250", b"250", b"354"):
                        rep = await lmtp_reply(r)
                        if not rep.startswith(want):
                            raise RuntimeError(rep)
                    w.write(body)
                    rep = await lmtp_reply(r)
                    if not rep.startswith(b"250"):
                        raise RuntimeError(rep)
                    done[0] += 1
                w.write(b"QUIT\r\n")
                w.close()
            except Exception as e:
                errors[0] += 1
                if not first_error:
                    first_error.append(repr(e))
                await asyncio.sleep(0.05)

    t0 = time.monotonic()
    await asyncio.gather(*(worker(i) for i in range(conns)))
    elapsed = time.monotonic() - t0
    print(json.dumps({
        "target": target, "conns": conns, "secs": round(elapsed, 2), "deliveries": done[0],
        "deliveries_per_s": round(done[0] / elapsed, 1), "errors": errors[0],
        "first_error": first_error[0] if first_error else None,
    }))


def main():
    mode, a = sys.argv[1], sys.argv[2:]
    if mode == "imap":
        asyncio.run(imap_bench(a[0], float(a[1]), int(a[2]), a[3].split(","), a[4]))
    elif mode == "idle":
        asyncio.run(idle_bench(a[0], int(a[1]), a[2].split(","), a[3], int(a[4])))
    elif mode == "lmtp":
        auth = (a[4], a[5]) if len(a) > 5 else None
        asyncio.run(lmtp_bench(a[0], float(a[1]), int(a[2]), a[3].split(","), auth))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
