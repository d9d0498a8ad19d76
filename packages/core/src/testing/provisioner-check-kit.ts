import type { OperationContext, OsContext, ProvisionerContext } from '../context.js';
import type { OsModule } from '../os-module.js';
import type { ProgressUpdate } from '../progress.js';
import type { CaptureArgs, ImageRevisionRef, Provisioner } from '../provisioner.js';
import type { ConformanceCheck, ResolvedOptions } from './conformance-check.js';
import type { ConformanceHarness } from './harness.js';

export type Fail = (message: string) => never;

/** What `provisionerChecks` hands the check sets kept in their own files. */
export interface ProvisionerCheckKit {
  readonly provisioner: Provisioner;
  /** The OS module of the harness's image, unwrapped (the kit's own calls). */
  readonly os: OsModule;
  readonly harness: ConformanceHarness;
  readonly options: ResolvedOptions;
  /**
   * Makes a check `provisioner/<id>` (guarded: a call outside the OS contract fails it); with
   * `skip`, a check shown as skipped for that reason.
   */
  readonly check: (
    id: string,
    title: string,
    body: (fail: Fail) => Promise<void>,
    skip?: string,
  ) => ConformanceCheck;
  /** A context for a provisioner call, carrying `module` (wrapped by the contract guard). */
  readonly ctx: (module: OsModule, phase: string, signal?: AbortSignal) => ProvisionerContext;
  /** A context for image-store calls. */
  readonly storeCtx: () => OperationContext;
  /** Resets the machine and runs `postLoad`: a loaded machine, as a capture finds it. */
  readonly loaded: () => Promise<void>;
  /** Puts the harness's image into the provisioner's store through `importImage`, when it can. */
  readonly seeded: () => Promise<void>;
  /** Arguments of a capture of a new kit image, which the last check deletes. */
  readonly newCapture: (mode: CaptureArgs['mode']) => CaptureArgs;
  /** The provisioner's features. */
  readonly features: readonly string[];
}

/** A context for the kit's own OS module calls on the harness's machine. */
export function osContextOf(kit: ProvisionerCheckKit, phase: string): OsContext {
  return kit.harness.osContext({ phase, timeoutMs: kit.options.operationTimeoutMs });
}

/** `name@revision`, as the kit names a revision in messages. */
export function refName(ref: ImageRevisionRef): string {
  return `${ref.name}@${ref.revision}`;
}

/** The error code of `error`, or what it is when it has none. */
export function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : String((error as Error | undefined)?.message ?? error);
}

/** A progress report the kit saw, with the phase of the context that made it. */
export interface SeenReport {
  readonly phase: string;
  readonly update: ProgressUpdate;
}

/**
 * `ctx`, except that every progress report made through it or any child of it is shown to
 * `onReport` first (synchronously: the kit may abort right there).
 */
export function observeProgress<C extends OperationContext>(
  ctx: C,
  onReport: (report: SeenReport) => void,
): C {
  const progress = {
    report(update: ProgressUpdate): void {
      onReport({ phase: ctx.phase, update });
      ctx.progress.report(update);
    },
  };
  return new Proxy(ctx, {
    get(target, property) {
      if (property === 'progress') return progress;
      if (property === 'child')
        return (options: Parameters<C['child']>[0]) =>
          observeProgress(target.child(options), onReport);
      return Reflect.get(target, property);
    },
  });
}

/**
 * `ctx` as an OS module gets it, except that `onTrip` runs (once) when the module first uses its
 * communicator (`command`) or first asks its power probe (`power`).
 */
export function tripwire(ctx: OsContext, on: 'command' | 'power', onTrip: () => void): OsContext {
  let tripped = false;
  const trip = (): void => {
    if (tripped) return;
    tripped = true;
    onTrip();
  };
  const wrapMethods = <T extends object>(object: T): T =>
    new Proxy(object, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          trip();
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  const wrap = (inner: OsContext): OsContext =>
    new Proxy(inner, {
      get(target, property) {
        if (property === 'communicator' && on === 'command')
          return wrapMethods(target.communicator);
        if (property === 'power' && on === 'power') return wrapMethods(target.power);
        if (property === 'child')
          return (options: Parameters<OsContext['child']>[0]) => wrap(target.child(options));
        return Reflect.get(target, property);
      },
    });
  return wrap(ctx);
}

/** What the kit can list of the store: `listImages` (by `name@revision`) and the harness's view. */
export interface StoreListing {
  readonly listed: ReadonlySet<string>;
  readonly entries: ReadonlySet<string> | undefined;
}

export async function storeListing(kit: ProvisionerCheckKit): Promise<StoreListing> {
  const listed = new Set(
    (await kit.provisioner.listImages(kit.storeCtx())).map((image) => refName(image)),
  );
  const entries =
    kit.harness.storeEntries === undefined
      ? undefined
      : new Set(await kit.harness.storeEntries.call(kit.harness));
  return { listed, entries };
}

/**
 * Fails, saying `when`, when `listImages` or the harness's store shows anything `before` did not
 * — besides `allowed` (a revision the operation was entitled to publish; the harness's entries are
 * then not compared, since the kit cannot tell which of them make up that revision).
 */
export async function expectNothingNew(
  kit: ProvisionerCheckKit,
  before: StoreListing,
  when: string,
  fail: Fail,
  allowed?: ImageRevisionRef,
): Promise<void> {
  const now = await storeListing(kit);
  const allowedName = allowed === undefined ? undefined : refName(allowed);
  const listed = [...now.listed].find((name) => !before.listed.has(name) && name !== allowedName);
  if (listed !== undefined) fail(`${when}, listImages shows ${listed}, which was not there before`);
  if (allowed !== undefined || now.entries === undefined || before.entries === undefined) return;
  const entry = [...now.entries].find((name) => !before.entries?.has(name));
  if (entry !== undefined) fail(`${when}, the store holds ${entry}, which was not there before`);
}
