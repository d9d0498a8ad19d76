/**
 * `@vlab/provisioner-example`: a provisioning module of vlab. Default-exports the module
 * definition the manager loads.
 *
 * It drives the in-memory lab of `@vlab/core/testing`: each computer's BMC and disk, and the lab's
 * image store. A provisioner for real machines keeps the same sequences and replaces the `lab`
 * and `machine` calls with its engine's (IPMI or Redfish, a deploy environment, a hypervisor API,
 * an image directory).
 *
 * @packageDocumentation
 */

import { createHash } from 'node:crypto';
import {
  type ComputerContext,
  coreError,
  defineProvisioner,
  nodeVerdict,
  type Provisioner,
  type ProvisionerContext,
  runSteps,
  throwIfCancelled,
} from '@vlab/core';
import { imageKey, MemoryLab, type MemoryMachine } from '@vlab/core/testing';
import { z } from 'zod';

// The module's section of the manager's configuration file.
const configSchema = z.object({
  // The memory lab it drives (`MemoryLab.id`), as a real one names a BMC address or a hypervisor.
  lab: z.string().min(1),
});

/**
 * The module definition: `provisioner-example`, contract `^1.1.0`, config `{ lab: string }`.
 * @public
 */
const definition = defineProvisioner({
  name: 'provisioner-example',
  version: '0.0.0',
  // The contract versions it speaks; the manager refuses to load it under any other.
  contract: '^1.1.0',
  configSchema,
  // Once per configured module, not per computer: everything about a machine is in each ctx.
  create(config): Provisioner {
    const lab = MemoryLab.find(config.lab);
    const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
    const partial = (image: string, revision: number) => imageKey(`.partial-${image}`, revision);

    // The computer's BMC: its credential is a reference, resolved here and never logged.
    const bmc = async (ctx: ComputerContext): Promise<MemoryMachine> => {
      throwIfCancelled(ctx.signal, ctx.computer.name, 'BMC login');
      const ref = ctx.computer.credentials['bmc'];
      const password = ref === undefined ? undefined : await ctx.secrets.resolve(ref);
      if (password?.reveal() !== lab.secretEnv['VLAB_MEMORY_BMC_PASSWORD'])
        throw coreError('VLAB_ERR_CONFIG_INVALID', 'the BMC refused the credential', {
          computer: ctx.computer.name,
        });
      return lab.machine(ctx.computer.name);
    };

    // First contact: the image on the disk has no host key of its own (it was generalized), so
    // put one there before booting, as a deploy environment does, and pin it: the first
    // connection is then trusted. Then wait until the OS answers, never a fixed time.
    const boot = async (ctx: ProvisionerContext, machine: MemoryMachine): Promise<void> => {
      const hostKey = machine.ensureHostKey();
      await ctx.communicator.trustHostKeys([hostKey], { signal: ctx.signal });
      machine.powerOn();
      await ctx.communicator.waitUntilReachable({
        signal: ctx.signal,
        timeoutMs: ctx.remainingMs(),
      });
    };

    const notFound = (image: string, revision: number, computer?: string) =>
      coreError('VLAB_ERR_IMAGE_NOT_FOUND', `image ${image} revision ${revision} is not stored`, {
        computer,
      });

    return {
      name: 'provisioner-example',
      capabilities: {
        features: ['capture', 'powerCycle', 'imageSize', 'deleteImage', 'importImage'],
        // What capture asks of os.preCapture: the disk is read with the machine off.
        captureEndState: 'off',
        // The OS families whose first contact it can arrange (host keys put on their disk).
        osFamilies: ['linux'],
      },

      async load(ctx, { image, revision }) {
        // Refused before the machine is touched.
        const stored = lab.images.get(imageKey(image, revision));
        if (stored === undefined) throw notFound(image, revision, ctx.computer.name);
        const machine = await bmc(ctx);
        await runSteps(
          ctx,
          [
            { name: 'power-off', run: async () => machine.powerOff() },
            { name: 'write-disk', run: async () => machine.writeDisk(stored.data) },
            { name: 'boot', run: (c) => boot(c, machine) },
          ],
          {},
        );
        // A load ends with the OS module's postLoad, exactly once, as its last OS call.
        const { stamp } = await ctx.os.postLoad(ctx.child({ phase: 'postLoad' }));
        return { image, revision, stamp };
      },

      async capture(ctx, { image, newRevision, mode }) {
        if (mode !== 'image')
          throw coreError('VLAB_ERR_CAPABILITY_MISSING', `capture mode ${mode} is not offered`, {
            computer: ctx.computer.name,
          });
        // Refused before the machine is touched.
        if (lab.images.has(imageKey(image, newRevision)))
          throw coreError(
            'VLAB_ERR_IMAGE_EXISTS',
            `image ${image} revision ${newRevision} exists`,
            {
              computer: ctx.computer.name,
            },
          );
        const machine = await bmc(ctx);
        const temporary = partial(image, newRevision);
        const state: { data?: Buffer } = {};
        await runSteps(
          ctx,
          [
            {
              // Exactly once, before any disk read; it generalizes the guest and powers it off.
              name: 'preCapture',
              run: async (c) => {
                const stamp = { image, revision: newRevision };
                await ctx.os.preCapture(c, { endState: 'off', stamp });
              },
            },
            {
              // Saved under a temporary name that listImages never shows.
              name: 'save-disk',
              run: async (_c, s) => {
                s.data = machine.readDisk();
                lab.images.set(temporary, { data: s.data, createdAt: new Date().toISOString() });
              },
              // After success, error or abort alike: a temporary image never outlives the capture.
              cleanup: async () => {
                lab.images.delete(temporary);
              },
            },
            {
              // Verified, then published under its real name.
              name: 'publish',
              run: async (_c, s) => {
                const saved = lab.images.get(temporary);
                if (saved === undefined || s.data === undefined || !saved.data.equals(s.data))
                  throw coreError(
                    'VLAB_ERR_IMAGE_CORRUPT',
                    'the saved image differs from the disk',
                    {
                      computer: ctx.computer.name,
                    },
                  );
                lab.images.set(imageKey(image, newRevision), {
                  ...saved,
                  sha256: sha256(saved.data),
                  osFamily: ctx.os.family,
                  stamp: { image, revision: newRevision },
                });
              },
            },
          ],
          state,
        );
        const data = state.data ?? Buffer.alloc(0);
        return {
          image,
          revision: newRevision,
          sizeBytes: data.length,
          storedBytes: data.length,
          sha256: sha256(data),
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
        // The verdict is core's, so every provisioner judges alike.
        const verdict = nodeVerdict({ responding, stamp }, ctx.image, ctx.computer.name);
        return { power, responding, stamp, ...verdict };
      },

      async imageExists(_ctx, { name, revision }) {
        if (revision !== undefined) return lab.images.has(imageKey(name, revision));
        return [...lab.images.keys()].some((key) => key.startsWith(`${name}@`));
      },
      async imageSize(_ctx, { name, revision }) {
        const stored = lab.images.get(imageKey(name, revision));
        if (stored === undefined) throw notFound(name, revision);
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
      // Idempotent: a revision that is not there is not an error.
      async deleteImage(_ctx, { name, revision }) {
        lab.images.delete(imageKey(name, revision));
      },
      // The lab's store reads the source under a temporary name, checks its sha256 and its room,
      // and only then publishes; a refusal or an abort leaves nothing behind.
      importImage: (ctx, args) => lab.importImage(args, ctx.signal),
    };
  },
});

export default definition;
