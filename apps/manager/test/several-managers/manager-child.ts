// One manager of the several-managers test, as its own OS process (the test SIGKILLs it): it runs
// createManager on the shared config with its own id (VLAB_SM_MANAGER_ID), reports every finished
// step and every observed module point to the test over Node's IPC channel and waits for the
// answer (the test holds it or kills it right there), and serves the test's calls on the manager's
// API. Run with `node --import tsx` from apps/manager.
import { DBOS } from '@dbos-inc/dbos-sdk';
import { createLogger, createSecretResolver, isVlabError } from '@vlab/core';
import { createManager, type Manager } from '../../src/manager.js';
import {
  type ChildMessage,
  type ManagerMethod,
  MODULE_HOOK,
  type ModuleMessage,
  type ParentMessage,
  type StepMessage,
} from './messages.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`manager-child: ${name} is not set`);
  return value;
};

const send = (message: ChildMessage): void => {
  process.send?.(message);
};

let next = 1;
const waiting = new Map<number, () => void>();

/** Reports to the test and waits for its `ack`. */
function ask(message: Omit<StepMessage, 'id'> | Omit<ModuleMessage, 'id'>): Promise<void> {
  const id = next++;
  return new Promise((resolve) => {
    waiting.set(id, resolve);
    send({ ...message, id } as ChildMessage);
  });
}

let manager: Manager | undefined;

/** The manager's API, by the names the test uses. */
function api(m: Manager, method: ManagerMethod, args: readonly unknown[]): Promise<unknown> {
  const [first, second] = args as [never, never];
  switch (method) {
    case 'users.add':
      return m.users.add(first);
    case 'reservations.request':
      return m.reservations.request(first);
    case 'reservations.get':
      return m.reservations.get(first);
    case 'reservations.capture':
      return m.reservations.capture(first, second);
    case 'computers.get':
      return m.computers.get(first);
    case 'images.get':
      return m.images.get(first);
    case 'events':
      return m.events(first);
  }
}

process.on('message', (message: ParentMessage) => {
  if (message.kind === 'ack') {
    waiting.get(message.id)?.();
    waiting.delete(message.id);
    return;
  }
  if (message.kind === 'close') {
    void (async () => {
      await manager?.close();
      process.exit(0);
    })();
    return;
  }
  const { id, method, args } = message;
  (async () => {
    if (manager === undefined) throw new Error('the manager is not started yet');
    return api(manager, method, args);
  })().then(
    (result) => send({ kind: 'reply', id, result }),
    (error: unknown) =>
      send({
        kind: 'reply',
        id,
        error: {
          message: error instanceof Error ? error.message : String(error),
          code: isVlabError(error) ? error.code : undefined,
        },
      }),
  );
});
// The test is gone: so is this manager.
process.on('disconnect', () => process.exit(3));

// The observed modules, loaded from the install directory, call this at their points.
(globalThis as Record<symbol, unknown>)[Symbol.for(MODULE_HOOK)] = (
  point: ModuleMessage['point'],
  detail: { computer: string; image: string; revision: number },
) => ask({ kind: 'module', point, ...detail });

const log = createLogger((record) => {
  if (record.level !== 'warn' && record.level !== 'error') return;
  let fields: string;
  try {
    fields = JSON.stringify(record.fields ?? {}).slice(0, 600);
  } catch {
    fields = '(not serialisable)';
  }
  send({ kind: 'log', level: record.level, message: record.message, fields });
});

manager = await createManager({
  configPath: env('VLAB_SM_CONFIG'),
  log,
  secrets: createSecretResolver({ env: process.env as Record<string, string> }),
  managerId: env('VLAB_SM_MANAGER_ID'),
  onStepDone: (step) =>
    ask({
      kind: 'step',
      step: step.step,
      reservationId: step.reservationId,
      computer: step.computer,
      workflowId: DBOS.workflowID ?? '',
    }),
});
send({ kind: 'ready' });
