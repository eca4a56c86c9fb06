import fs from 'node:fs';
import express from 'express';

// The ceiling: a bare Express process answering the very same JSON body, nothing else.
const body = JSON.parse(fs.readFileSync(process.env.BENCH_BODY_FILE!, 'utf8')) as unknown;
const app = express();
app.get('/api/v1/secrets', (_req, res) => {
  res.json(body);
});
const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address() as { port: number };
  process.stdout.write(`listening url="http://127.0.0.1:${address.port}"\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
