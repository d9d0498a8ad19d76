#!/usr/bin/env node
import { runVlab } from './vlab.js';

process.exitCode = await runVlab(process.argv.slice(2));
