#!/usr/bin/env node
// The vlab-ipmi command (the package's bin). All of it is in cli-main.ts, which tests run in-process.
import { processIo, runCli } from './cli-main.js';

process.exitCode = await runCli(process.argv.slice(2), processIo);
