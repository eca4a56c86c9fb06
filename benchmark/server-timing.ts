import diagnostics from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TIMING_LINE } from './timing-line.js';

/**
 * Loaded into a real `secretsfly serve` with `node --import <this file> bin/secretsfly.js serve`
 * (pull-cold-start): for every request, the time from Node's `request` event (headers parsed) to
 * the response's `finish` (its last byte handed to the socket), and the process's CPU time over the
 * same span, printed to stderr as one line. That is the server's time for the request, without the
 * connection and the client around it; nothing in the server changes, and the line is written after
 * the response, outside what it times. Never import this file elsewhere: importing it starts the
 * timing in that process.
 */

const started = new WeakMap<IncomingMessage, { at: bigint; cpu: NodeJS.CpuUsage }>();

diagnostics.subscribe('http.server.request.start', (message) => {
  started.set((message as { request: IncomingMessage }).request, {
    at: process.hrtime.bigint(),
    cpu: process.cpuUsage(),
  });
});

diagnostics.subscribe('http.server.response.finish', (message) => {
  const { request, response } = message as { request: IncomingMessage; response: ServerResponse };
  const start = started.get(request);
  if (start === undefined) return;
  const ms = Number(process.hrtime.bigint() - start.at) / 1e6;
  // The process's CPU time meanwhile (all threads): unlike `ms`, it does not grow while the
  // process waits for a core that other processes hold.
  const cpu = process.cpuUsage(start.cpu);
  const cpuMs = (cpu.user + cpu.system) / 1e3;
  process.stderr.write(
    `${TIMING_LINE}${JSON.stringify({ url: request.url, status: response.statusCode, ms, cpuMs })}\n`,
  );
});
