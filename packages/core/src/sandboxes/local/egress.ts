/**
 * The egress proxy of a local sandbox in `allow` mode. The sandbox has no network of its own
 * (`--unshare-net`): the one way out is this HTTP proxy, which parallel-cc runs on the host for the time of
 * each command, listening on a Unix socket that is the only thing bound into the sandbox from outside
 * (`/run/parallel-cc/proxy.sock`). Inside, a small bridge (`bridgeScript`) listens on 127.0.0.1 and carries
 * connections to the socket; `HTTP_PROXY`/`HTTPS_PROXY` point the agent's tools at it.
 *
 * The proxy serves `CONNECT host:port` (HTTPS, and any TCP a client tunnels) and plain `http://` requests,
 * and lets through only what the policy allows; a refusal is a `403` to the client and a line in
 * `egress.jsonl` beside the socket (host, port, reason), which the run reads into its log and summary. A
 * host name that resolves to a loopback or link-local address (this machine's services, a cloud's metadata
 * endpoint) is refused unless the rule names a loopback host itself.
 *
 * @since 0.1.0
 */
import { Effect, type Scope } from "effect"
import * as dns from "node:dns"
import * as http from "node:http"
import * as net from "node:net"
import * as path from "node:path"
import * as NodeFs from "../../platform/nodeFs.js"
import * as Egress from "../EgressPolicy.js"

/** What the proxy refused, one line per attempt. */
export interface Refusal {
  readonly host: string
  readonly port: number
  readonly reason: string
}

/** The file of refusals next to the proxy's socket. */
export const refusalsFile = (dir: string) => path.join(dir, "egress.jsonl")

/** The in-sandbox port of the proxy (`HTTP_PROXY=http://127.0.0.1:PORT`). */
export const proxyPort = 3128

const blockedAddress = (address: string): boolean =>
  /^127\./.test(address) || /^169\.254\./.test(address) || address === "::1" || /^fe[89ab][0-9a-f]:/i.test(address) ||
  /^::ffff:(127|169\.254)\./i.test(address) || address === "0.0.0.0" || address === "::"

/** Where `host:port` may be dialled (the resolved address), or why not. */
const destination = (rules: ReadonlyArray<Egress.HostRule>, host: string, port: number) =>
  new Promise<{ readonly address: string } | { readonly refused: string }>((resolve) => {
    const h = host.toLowerCase().replace(/^\[|\]$/g, "").replace(/\.$/, "")
    const rule = rules.find((r) => Egress.allows(r, h, port))
    if (rule === undefined) return resolve({ refused: "not on the allow list" })
    dns.lookup(h, { all: false }, (err, address) => {
      if (err !== null) return resolve({ refused: `cannot resolve ${h} (${err.code ?? err.message})` })
      if (blockedAddress(address) && !Egress.isLoopback(rule)) {
        return resolve({ refused: `${h} resolves to ${address}, a local address; allow it by that address to reach it` })
      }
      resolve({ address })
    })
  })

const splitHostPort = (target: string, defaultPort: number): { host: string; port: number } | undefined => {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(target)
  if (m === null) return undefined
  return { host: m[1]!, port: m[2] !== undefined ? Number(m[2]) : defaultPort }
}

/**
 * Serve the policy `rules` on the Unix socket `socketPath` until the scope closes; refusals are appended to
 * {@link refusalsFile} of the socket's directory.
 */
export const serve = (socketPath: string, rules: ReadonlyArray<Egress.HostRule>): Effect.Effect<void, NodeFs.FsFailure, Scope.Scope> =>
  Effect.gen(function*() {
    const log = yield* NodeFs.makeAppender(refusalsFile(path.dirname(socketPath)))
    const refuse = (host: string, port: number, reason: string) =>
      Effect.runFork(log.append(JSON.stringify({ host: host.toLowerCase(), port, reason } satisfies Refusal) + "\n"))
    const sockets = new Set<net.Socket>()
    const server = http.createServer((req, res) => {
      let url: URL
      try {
        url = new URL(req.url ?? "")
      } catch {
        res.writeHead(400).end("parallel-cc egress proxy: absolute http:// URLs and CONNECT only\n")
        return
      }
      const port = url.port !== "" ? Number(url.port) : 80
      if (url.protocol !== "http:") {
        res.writeHead(400).end("parallel-cc egress proxy: use CONNECT for https\n")
        return
      }
      void destination(rules, url.hostname, port).then((d) => {
        if ("refused" in d) {
          refuse(url.hostname, port, d.refused)
          res.writeHead(403, { "x-proxy-error": "blocked-by-parallel-cc" }).end(`parallel-cc: ${url.hostname}:${port} ${d.refused}\n`)
          return
        }
        const headers = { ...req.headers }
        delete headers["proxy-connection"]
        delete headers["proxy-authorization"]
        const upstream = http.request(
          { host: d.address, port, method: req.method, path: `${url.pathname}${url.search}`, headers, setHost: false },
          (up) => {
            res.writeHead(up.statusCode ?? 502, up.headers)
            up.pipe(res)
          }
        )
        upstream.on("error", (e) => {
          if (!res.headersSent) res.writeHead(502).end(`parallel-cc: ${url.hostname}:${port}: ${e.message}\n`)
          else res.destroy()
        })
        req.pipe(upstream)
      })
    })
    server.on("connect", (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
      sockets.add(client)
      client.on("close", () => sockets.delete(client))
      client.on("error", () => client.destroy())
      const target = splitHostPort(req.url ?? "", 443)
      if (target === undefined) {
        client.end("HTTP/1.1 400 Bad Request\r\n\r\n")
        return
      }
      void destination(rules, target.host, target.port).then((d) => {
        if ("refused" in d) {
          refuse(target.host, target.port, d.refused)
          client.end(`HTTP/1.1 403 Forbidden\r\nX-Proxy-Error: blocked-by-parallel-cc\r\n\r\nparallel-cc: ${target.host}:${target.port} ${d.refused}\n`)
          return
        }
        const upstream = net.connect(target.port, d.address, () => {
          client.write("HTTP/1.1 200 Connection Established\r\n\r\n")
          if (head.length > 0) upstream.write(head)
          upstream.pipe(client)
          client.pipe(upstream)
        })
        sockets.add(upstream)
        upstream.on("close", () => sockets.delete(upstream))
        upstream.on("error", (e) => {
          if (client.writable && !client.destroyed) client.end(`HTTP/1.1 502 Bad Gateway\r\n\r\nparallel-cc: ${e.message}\n`)
          client.destroy()
        })
        client.on("close", () => upstream.destroy())
      })
    })
    server.on("clientError", (_e, socket) => socket.destroy())
    yield* NodeFs.remove(socketPath)
    yield* Effect.acquireRelease(
      Effect.async<void, NodeFs.FsFailure>((resume) => {
        server.once("error", (e) => resume(Effect.fail(new NodeFs.FsFailure({ op: "listen", path: socketPath, code: undefined, detail: e.message }))))
        server.listen(socketPath, () => resume(Effect.void))
      }),
      () =>
        Effect.async<void>((resume) => {
          for (const s of sockets) s.destroy()
          server.close(() => resume(Effect.void))
          server.closeAllConnections?.()
        }).pipe(Effect.zipRight(NodeFs.remove(socketPath).pipe(Effect.ignore)))
    )
  })

/** The refusals recorded in `dir` (one entry per host and port, with how often). */
export const refusals = (dir: string): Effect.Effect<ReadonlyArray<Refusal & { readonly count: number }>> =>
  NodeFs.readText(refusalsFile(dir)).pipe(
    Effect.map((text) => {
      const seen = new Map<string, Refusal & { count: number }>()
      for (const line of text.split("\n")) {
        if (line.trim() === "") continue
        try {
          const r = JSON.parse(line) as Refusal
          const key = `${r.host}:${r.port}`
          const cur = seen.get(key)
          if (cur !== undefined) cur.count++
          else seen.set(key, { host: r.host, port: r.port, reason: r.reason, count: 1 })
        } catch {
          // A line cut short by a crash: the others still count.
        }
      }
      return [...seen.values()].sort((a, b) => `${a.host}:${a.port}`.localeCompare(`${b.host}:${b.port}`))
    }),
    Effect.orElseSucceed(() => [])
  )

/**
 * The program that runs inside the sandbox in front of the agent (with the node that runs parallel-cc):
 * `bridge.cjs SOCKET PORT [LOOPBACK_PORT…] -- COMMAND ARGS…`. It carries connections to 127.0.0.1:PORT
 * to the proxy's socket as they are, and those to each 127.0.0.1:LOOPBACK_PORT through the proxy as a
 * `CONNECT 127.0.0.1:LOOPBACK_PORT` (so an allowed service of this machine, a local model API for
 * instance, answers at the address the agent was given), then runs the command with the same stdin,
 * stdout and stderr, passes signals on, and exits as it exits.
 */
export const bridgeScript = `"use strict";
const net = require("net");
const { spawn } = require("child_process");
const args = process.argv.slice(2);
const sep = args.indexOf("--");
const [sock, port, ...loopback] = args.slice(0, sep);
const argv = args.slice(sep + 1);
const relay = (a, b) => { a.on("error", () => b.destroy()); b.on("error", () => a.destroy()); a.on("close", () => b.destroy()); b.on("close", () => a.destroy()); };
const servers = [net.createServer((c) => { const u = net.connect(sock); relay(c, u); c.pipe(u); u.pipe(c); })];
for (const p of loopback) {
  servers.push(net.createServer((c) => {
    c.pause();
    const u = net.connect(sock, () => u.write("CONNECT 127.0.0.1:" + p + " HTTP/1.1\\r\\nHost: 127.0.0.1:" + p + "\\r\\n\\r\\n"));
    relay(c, u);
    let got = Buffer.alloc(0);
    const onData = (d) => {
      got = Buffer.concat([got, d]);
      const end = got.indexOf("\\r\\n\\r\\n");
      if (end < 0) return;
      u.removeListener("data", onData);
      if (!/^HTTP\\/1\\.[01] 200/.test(got.toString("latin1"))) { c.destroy(); u.destroy(); return; }
      const rest = got.subarray(end + 4);
      if (rest.length > 0) c.write(rest);
      u.pipe(c); c.pipe(u); c.resume();
    };
    u.on("data", onData);
  }));
}
const ports = [port, ...loopback];
let listening = 0;
servers.forEach((s, i) => s.listen(Number(ports[i]), "127.0.0.1", () => { if (++listening === servers.length) run(); }));
servers.forEach((s) => s.on("error", (e) => { process.stderr.write("parallel-cc bridge: " + e.message + "\\n"); process.exit(126); }));
function run() {
  const child = spawn(argv[0], argv.slice(1), { stdio: "inherit" });
  const forward = (s) => () => { try { child.kill(s); } catch (_) {} };
  for (const s of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(s, forward(s));
  child.on("error", (e) => { process.stderr.write("parallel-cc bridge: cannot start " + argv[0] + ": " + e.message + "\\n"); process.exit(127); });
  child.on("exit", (code, signal) => {
    servers.forEach((s) => s.close());
    if (signal) { process.removeAllListeners(signal); process.kill(process.pid, signal); setTimeout(() => process.exit(128), 1000).unref(); }
    else process.exit(code === null ? 1 : code);
  });
}
`
