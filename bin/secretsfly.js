#!/usr/bin/env node
// The compiled CLI; `npm install` builds it through the `prepare` script.
import { main } from '../dist/cli/index.js';

main(process.argv).then((code) => {
  process.exitCode = code;
});
