// Run by plain-node.test.ts in a child `node` process, not under vitest: each wait below ends only
// by a timer of core's (a deadline, a communicator timeout), so the process must stay alive until
// it fires and print every line. Exits 0 only when all of them were printed.
import { untilCancelled } from '../../src/abort.js';
import { createOperationContext } from '../../src/create-context.js';
import { isVlabError } from '../../src/errors/vlab-error.js';
import { silentLogger } from '../../src/logger.js';
import { runSteps } from '../../src/steps.js';
import { createMemoryLab, MEMORY_BASE_IMAGE } from '../../src/testing/memory/memory-lab.js';

const never = new Promise<never>(() => {});
const outcome = (work: Promise<unknown>): Promise<string> =>
  work.then(
    () => 'resolved',
    (error: unknown) => (isVlabError(error) ? error.code : String(error)),
  );
const context = (timeoutMs: number) =>
  createOperationContext({ log: silentLogger, deadline: Date.now() + timeoutMs, phase: 'load' });

// A step that waits for something only its deadline ends.
const step = await outcome(
  runSteps(
    context(200),
    [{ name: 'hang', run: (c) => untilCancelled(never, c.signal) }],
    undefined,
  ),
);
console.log(`step: ${step}`);

// A cleanup that waits for something only its own deadline ends.
const cleanup = await outcome(
  runSteps(
    context(60_000),
    [{ name: 'temp', run: async () => {}, cleanup: (c) => untilCancelled(never, c.signal) }],
    undefined,
    { cleanupTimeoutMs: 200 },
  ),
);
console.log(`cleanup: ${cleanup}`);

// A memory-lab call on a stalled machine: only its timeout ends it.
const lab = createMemoryLab({ computers: ['node1'] });
lab.deploy('node1', MEMORY_BASE_IMAGE);
const resume = lab.machine('node1').stall();
const call = await outcome(lab.communicator('node1').run(['true'], { timeoutMs: 200 }));
resume();
console.log(`stalled call: ${call}`);
