// One life of the crash test's manager: a child process the test SIGKILLs at chosen points. It
// connects to the lab server (VLAB_CRASH_SOCKET), relays every module operation there, reports
// every finished step (and waits for the answer: the server may kill it right there), and serves
// the test's calls on the manager's API. Run with `node --import tsx`. With VLAB_CRASH_MODULES=child
// (lab computers) the modules run here instead, tapped (proxy-modules.ts): each operation is
// announced to the server before it starts and reported when it ends; the OS modules reach the
// machines with the manager's own communicators.
import { connect } from 'node:net';
import { DBOS } from '@dbos-inc/dbos-sdk';
import {
  type Communicator,
  createLogger,
  createSecretResolver,
  Secret,
  VlabError,
} from '@vlab/core';
import { createManager, type Manager } from '../../src/manager.js';
import { decode, encode, Peer, type WireError } from './wire.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`manager-child: ${name} is not set`);
  return value;
};

const secret = (value: string, label: string) => new Secret(value, label);

function rethrow(error: WireError): never {
  if (error.code !== undefined && error.summary !== undefined && error.hint !== undefined)
    throw new VlabError(error.code, error.summary, { computer: error.computer, hint: error.hint });
  throw new Error(error.message);
}

const socket = connect(env('VLAB_CRASH_SOCKET'));
await new Promise<void>((resolve, reject) => {
  socket.once('connect', resolve);
  socket.once('error', reject);
});
let manager: Manager | undefined;
const running = (): Manager => {
  if (manager === undefined) throw new Error('the manager is not started yet');
  return manager;
};
const peer = new Peer(socket, async (method, params) => {
  const p = decode(params, secret) as Record<string, unknown>;
  if (method === 'go') {
    go();
    return null;
  }
  const m = running();
  switch (method) {
    case 'request':
      return encode(await m.reservations.request(p as never));
    case 'capture':
      await m.reservations.capture(p['id'] as string, { mode: p['mode'] as 'image' });
      return null;
    case 'end':
      await m.reservations.end(p['id'] as string);
      return null;
    case 'addUser':
      await m.users.add(p as never);
      return null;
    default:
      throw new Error(`manager-child: no method ${method}`);
  }
});
// The server is gone: so is this life.
socket.on('close', () => process.exit(3));

(globalThis as { __vlabCrashRelay?: unknown }).__vlabCrashRelay = async (
  kind: string,
  op: string,
  ctx: unknown,
  args: unknown[],
) => {
  try {
    // The step it runs in (DBOS's context): what the invariants call "the same request".
    const step = { workflowId: DBOS.workflowID, stepId: DBOS.stepID };
    return decode(await peer.call('module', encode({ kind, op, ctx, args, step })), secret);
  } catch (error) {
    rethrow(error as WireError);
  }
};

/** Lab computers: the modules run in this process; the server only hears of each operation. */
const modulesHere = process.env['VLAB_CRASH_MODULES'] === 'child';

(globalThis as { __vlabCrashTap?: unknown }).__vlabCrashTap = async (
  kind: string,
  op: string,
  ctx: unknown,
  args: unknown[],
) => {
  const step = { workflowId: DBOS.workflowID, stepId: DBOS.stepID };
  let id: number;
  try {
    // The server answers once it recorded the call (or never: it kills this life at its arrival).
    ({ id } = decode(await peer.call('module', encode({ kind, op, ctx, args, step })), secret) as {
      id: number;
    });
  } catch (error) {
    rethrow(error as WireError);
  }
  return async (error: unknown) => {
    const message =
      error === undefined ? null : error instanceof Error ? error.message : String(error);
    await peer.call('module-done', { id, error: message });
  };
};

// The OS modules never reach the machine from here: their operations run in the server.
const nowhere = new Proxy({} as Communicator, {
  get(_target, key) {
    if (key === 'then') return undefined;
    return () => {
      throw new Error(`manager-child: communicator.${String(key)} is not relayed`);
    };
  },
});

let go: () => void = () => {};
const told = new Promise<void>((resolve) => {
  go = resolve;
});
// A standby until the server says go: its code is loaded, the manager not yet started.
await peer.call('hello', { pid: process.pid });
await told;
const importedAt = Math.round(process.uptime() * 1000);
const log = createLogger((record) => {
  if (record.level === 'error') process.stderr.write(`${JSON.stringify(encode(record))}\n`);
});
manager = await createManager({
  configPath: env('VLAB_CRASH_CONFIG'),
  log,
  secrets: createSecretResolver({ env: process.env as Record<string, string> }),
  communicators: modulesHere ? undefined : async () => nowhere,
  managerId: 'crash-manager',
  onStepDone: async (step) => {
    await peer.call('step', encode({ ...step, workflowId: DBOS.workflowID, stepId: DBOS.stepID }));
  },
});
await peer.call('ready', { importedAt, readyAt: Math.round(process.uptime() * 1000) });
