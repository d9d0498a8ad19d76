import { createHash } from 'node:crypto';
import {
  type ComputerContext,
  coreError,
  defineProvisioner,
  nodeVerdict,
  type OperationContext,
  type Provisioner,
  type ProvisionerContext,
  runSteps,
  type Step,
  sleep,
  throwIfCancelled,
} from '@vlab/core';
import { imageKey, MemoryLab as Lab, type MemoryLab, type MemoryMachine } from '@vlab/core/testing';
import { z } from 'zod';

/** Config of the memory provisioner. */
export const memoryProvisionerConfig = z.object({
  /** The id of the `MemoryLab` whose machines and image store it drives. */
  lab: z.string().min(1),
  /** How often it polls while waiting for a machine, in milliseconds. */
  pollIntervalMs: z.number().int().positive().default(5),
});

/**
 * The memory provisioner: BMC, disk and image store of a `MemoryLab`. It speaks contract 1.1:
 * `importImage` (the lab's store), `release` (erases the machine's disk), `close` (ends the BMC
 * sessions it keeps), and `StoredImage` with `sha256`, `osFamily`, `stamp` and `storedBytes`.
 */
export default defineProvisioner({
  name: 'provisioner-memory',
  version: '0.0.0',
  contract: '^1.1.0',
  configSchema: memoryProvisionerConfig,
  create(config): Provisioner {
    const lab: MemoryLab = Lab.find(config.lab);
    // BMC sessions kept open across operations, by computer: what `close` ends.
    const sessions = new Set<string>();

    // The BMC login: resolve the credential and check it, as a real BMC session would.
    const bmc = async (ctx: ComputerContext): Promise<MemoryMachine> => {
      throwIfCancelled(ctx.signal, ctx.computer.name, 'BMC request');
      if (sessions.has(ctx.computer.name)) return lab.machine(ctx.computer.name);
      const ref = ctx.computer.credentials['bmc'];
      if (ref === undefined)
        throw coreError('VLAB_ERR_CONFIG_INVALID', 'the computer has no bmc credential', {
          computer: ctx.computer.name,
        });
      const password = await ctx.secrets.resolve(ref);
      if (password.reveal() !== lab.secretEnv['VLAB_MEMORY_BMC_PASSWORD']) {
        throw coreError('VLAB_ERR_CONFIG_INVALID', 'the BMC refused the credential', {
          computer: ctx.computer.name,
        });
      }
      ctx.log.debug('BMC session open', { user: 'admin', password });
      sessions.add(ctx.computer.name);
      return lab.machine(ctx.computer.name);
    };

    // Boot from the disk: a deploy environment would put a known host key on the disk first,
    // so the deployer pins it before the first contact.
    const boot = async (ctx: ProvisionerContext, machine: MemoryMachine): Promise<void> => {
      const hostKey = machine.ensureHostKey();
      await ctx.communicator.trustHostKeys([hostKey], { signal: ctx.signal });
      machine.powerOn();
      await ctx.communicator.waitUntilReachable({
        signal: ctx.signal,
        timeoutMs: ctx.remainingMs(),
      });
    };

    const exists = (name: string, revision?: number): boolean =>
      revision === undefined
        ? [...lab.images.keys()].some((k) => k.startsWith(`${name}@`))
        : lab.images.has(imageKey(name, revision));

    return {
      name: 'provisioner-memory',
      capabilities: {
        features: [
          'capture',
          'checkpoint',
          'powerCycle',
          'imageSize',
          'deleteImage',
          'importImage',
          'release',
        ],
        captureEndState: 'off',
        osFamilies: ['linux'],
      },

      async load(ctx, { image, revision }) {
        const stored = lab.images.get(imageKey(image, revision));
        if (stored === undefined) {
          throw coreError(
            'VLAB_ERR_IMAGE_NOT_FOUND',
            `image ${image} revision ${revision} is not in the store`,
            { computer: ctx.computer.name },
          );
        }
        const machine = await bmc(ctx);
        const steps: Step<ProvisionerContext, Record<string, never>>[] = [
          { name: 'power-off', run: async () => machine.powerOff() },
          {
            name: 'deploy',
            run: async (c) => {
              machine.writeDisk(stored.data);
              c.progress.report({ done: stored.data.length, total: stored.data.length });
            },
          },
          { name: 'boot', run: (c) => boot(c, machine) },
        ];
        await runSteps(ctx, steps, {});
        const { stamp } = await ctx.os.postLoad(ctx.child({ phase: 'postLoad' }));
        return { image, revision, stamp };
      },

      async capture(ctx, { image, newRevision, mode }) {
        if (exists(image, newRevision)) {
          throw coreError(
            'VLAB_ERR_IMAGE_EXISTS',
            `image ${image} revision ${newRevision} already exists`,
            { computer: ctx.computer.name },
          );
        }
        const machine = await bmc(ctx);
        const state: { data?: Buffer; temporary?: string } = {};
        const steps: Step<ProvisionerContext, typeof state>[] = [
          {
            name: 'preCapture',
            run: async (c) => {
              await ctx.os.preCapture(c, {
                endState: 'off',
                stamp: { image, revision: newRevision },
              });
            },
          },
          {
            name: 'save-disk',
            run: async (c, s) => {
              s.data = machine.readDisk();
              s.temporary = imageKey(`.partial-${image}`, newRevision);
              lab.images.set(s.temporary, { data: s.data, createdAt: new Date().toISOString() });
              c.progress.report({ done: s.data.length, total: s.data.length });
            },
            // A temporary image never outlives the capture.
            cleanup: async (_c, s) => {
              if (s.temporary !== undefined) lab.images.delete(s.temporary);
            },
          },
          {
            name: 'publish',
            run: async (c, s) => {
              const saved = s.temporary === undefined ? undefined : lab.images.get(s.temporary);
              if (saved === undefined || s.data === undefined || !saved.data.equals(s.data)) {
                throw coreError(
                  'VLAB_ERR_COMMAND_FAILED',
                  'the saved image differs from the disk read',
                  { computer: ctx.computer.name },
                );
              }
              c.progress.report({
                done: saved.data.length,
                total: saved.data.length,
                message: 'verified',
              });
              // The last moment to stop: once published, the revision is there for good.
              throwIfCancelled(c.signal, ctx.computer.name, 'publish');
              // A 1.1 store records the checksum, the OS family and the stamp it was captured with.
              lab.images.set(imageKey(image, newRevision), {
                ...saved,
                sha256: createHash('sha256').update(saved.data).digest('hex'),
                osFamily: ctx.os.family,
                stamp: { image, revision: newRevision },
              });
            },
          },
        ];
        if (mode === 'checkpoint') {
          steps.push({
            name: 'boot-again',
            run: async (c) => {
              await boot(c, machine);
              await ctx.os.postLoad(c);
            },
          });
        }
        await runSteps(ctx, steps, state);
        const data = state.data ?? Buffer.alloc(0);
        return {
          image,
          revision: newRevision,
          // The memory store keeps the raw disk as it is: logical and stored sizes agree.
          sizeBytes: data.length,
          storedBytes: data.length,
          sha256: createHash('sha256').update(data).digest('hex'),
        };
      },

      async powerOn(ctx) {
        (await bmc(ctx)).powerOn();
      },
      async powerOff(ctx) {
        (await bmc(ctx)).powerOff();
      },
      async powerCycle(ctx) {
        const machine = await bmc(ctx);
        machine.powerOff();
        await sleep(config.pollIntervalMs, ctx.signal, ctx.computer.name);
        machine.powerOn();
      },
      async powerStatus(ctx) {
        return (await bmc(ctx)).power;
      },

      async nodeStatus(ctx) {
        const power = (await bmc(ctx)).power;
        const responding =
          power === 'on' && (await ctx.os.isResponding(ctx.child({ phase: 'isResponding' })));
        const stamp = responding
          ? await ctx.os.readStamp(ctx.child({ phase: 'readStamp' }))
          : undefined;
        return {
          power,
          responding,
          stamp,
          ...nodeVerdict({ responding, stamp }, ctx.image, ctx.computer.name),
        };
      },

      async imageExists(_ctx: OperationContext, query) {
        return exists(query.name, query.revision);
      },
      async imageSize(_ctx, { name, revision }) {
        const stored = lab.images.get(imageKey(name, revision));
        if (stored === undefined)
          throw coreError(
            'VLAB_ERR_IMAGE_NOT_FOUND',
            `image ${name} revision ${revision} is not in the store`,
          );
        return stored.data.length;
      },
      async listImages() {
        return [...lab.images.keys()]
          .filter((key) => !key.startsWith('.partial-'))
          .flatMap((key) => {
            const at = key.lastIndexOf('@');
            const stored = lab.storedImage(key.slice(0, at), Number(key.slice(at + 1)));
            return stored === undefined ? [] : [stored];
          });
      },
      async deleteImage(_ctx, { name, revision }) {
        lab.images.delete(imageKey(name, revision));
      },

      // The lab's store reads the source under a temporary name, checks its sha256 (else
      // VLAB_ERR_IMAGE_CORRUPT) and its room (else VLAB_ERR_STORE_FULL), and only then publishes.
      async importImage(ctx, args) {
        const stored = await lab.importImage(args, ctx.signal);
        ctx.log.info('image imported', {
          image: args.image,
          revision: args.revision,
          sizeBytes: stored.sizeBytes,
        });
        return stored;
      },

      // The machine's "VM and overlay" go: power off and an empty disk. A later load writes it again.
      async release(ctx) {
        const machine = await bmc(ctx);
        machine.powerOff();
        machine.eraseDisk();
        ctx.log.info('machine released');
      },

      async close() {
        sessions.clear();
      },
    };
  },
});
