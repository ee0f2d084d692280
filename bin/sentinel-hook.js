#!/usr/bin/env node
// Thin shim: everything lives in the bundled dist/cli.js (one file loads faster than node_modules).
import { main } from '../dist/cli.js';

process.exitCode = await main(process.argv.slice(2));
