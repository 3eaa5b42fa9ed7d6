/**
 * An HTTP proxy in front of a real S3 server that injects faults into chosen requests: a 503, a
 * request that never gets an answer (the client's timeout must fire), or a response body cut off
 * half-way. Everything else passes through untouched (the Host header too, so signatures hold).
 */
import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Fault = 'pass' | '503' | 'stall' | 'cut';

export interface Seen {
  method: string;
  url: string;
  range?: string;
  fault: Fault;
}

export interface FaultProxy {
  url: string;
  seen: Seen[];
  close(): Promise<void>;
}

export async function startFaultProxy(upstream: string, plan: (req: IncomingMessage) => Fault): Promise<FaultProxy> {
  const up = new URL(upstream);
  const seen: Seen[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const fault = plan(req);
    seen.push({ method: req.method!, url: req.url!, range: req.headers.range, fault });
    if (fault === '503' || fault === 'stall') {
      req.resume(); // read the body the client sends
      if (fault === '503') {
        req.on('end', () => {
          res.writeHead(503, { 'content-type': 'application/xml' });
          res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code><Message>injected</Message></Error>');
        });
      }
      return;
    }
    const fwd = request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode!, ur.headers);
      if (fault !== 'cut') return void ur.pipe(res);
      const half = Math.floor(Number(ur.headers['content-length'] ?? 0) / 2);
      let sent = 0;
      ur.on('data', (d: Buffer) => {
        if (sent >= half) return;
        const piece = d.subarray(0, half - sent);
        sent += piece.length;
        res.write(piece);
        if (sent >= half) {
          ur.destroy();
          res.socket?.destroy(); // the body breaks off mid-way
        }
      });
    });
    fwd.on('error', () => res.destroy());
    req.pipe(fwd);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
