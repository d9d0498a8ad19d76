import { createLogger, Secret } from '@vlab/core';
import { pinoSink } from '../src/logging/pino-sink.js';

// Run by logging.test.ts as a child process: logs one record to stderr through the default sink,
// so the test sees what a terminal and a pipe get.
createLogger(pinoSink()).info('hello from the child', {
  reservationId: 'r-1',
  computer: 'c1',
  password: 'child-secret-1',
  key: new Secret('child-secret-2'),
});
