import { MODULE_HOOK } from './messages.js';

// The real @vlab/os-linux and @vlab/provisioner-baremetal, each under a package that adds a debug
// hook and nothing else: the test needs a known point inside `provisioner.capture` (no workflow
// step ends there) to kill a manager in the middle of a capture, and to count every capture a
// manager starts. Each hook calls the manager process's IPC channel (manager-child.ts) and waits
// for the test; outside such a process it does nothing.

const hook = `const hook = (point, detail) => {
  const report = globalThis[Symbol.for(${JSON.stringify(MODULE_HOOK)})];
  return report === undefined ? Promise.resolve() : report(point, detail);
};`;

/** The package name of the observed baremetal provisioner. */
export const OBSERVED_PROVISIONER = 'observed-baremetal';

/** The package name of the observed Linux OS module. */
export const OBSERVED_OS = 'observed-os-linux';

/** `@vlab/provisioner-baremetal`, reporting each call of `capture` before it runs. */
export const OBSERVED_PROVISIONER_SOURCE = `import baremetal from '@vlab/provisioner-baremetal';
${hook}

export default {
  ...baremetal,
  async create(config, deps) {
    const provisioner = await baremetal.create(config, deps);
    const capture = provisioner.capture;
    provisioner.capture = async (ctx, args) => {
      await hook('capture', { computer: ctx.computer.name, image: args.image, revision: args.newRevision });
      return capture.call(provisioner, ctx, args);
    };
    return provisioner;
  },
};
`;

/** `@vlab/os-linux`, reporting the end of each `preCapture` before it returns. */
export const OBSERVED_OS_SOURCE = `import linux from '@vlab/os-linux';
${hook}

export default {
  ...linux,
  async create(config, deps) {
    const os = await linux.create(config, deps);
    const preCapture = os.preCapture;
    os.preCapture = async (ctx, args) => {
      await preCapture.call(os, ctx, args);
      await hook('preCapture-done', { computer: ctx.computer.name, image: args.stamp.image, revision: args.stamp.revision });
    };
    return os;
  },
};
`;
