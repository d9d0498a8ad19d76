import { stat } from 'node:fs/promises';
import { isVlabError } from '../errors/vlab-error.js';
import type { NodeStatus, NodeVerdict } from '../provisioner.js';
import type { ConformanceCheck } from './conformance-check.js';
import {
  codeOf,
  type Fail,
  osContextOf,
  type ProvisionerCheckKit,
  refName,
  storeListing,
} from './provisioner-check-kit.js';

/**
 * Every provisioner operation has a check (kit 2): the power operations, each confirmed through
 * the harness and idempotent where the contract says so; `nodeStatus` in each situation the
 * harness can set up; and the image store's `listImages`, `imageSize` and `deleteImage`.
 */
export function provisionerOperationChecks(kit: ProvisionerCheckKit): readonly ConformanceCheck[] {
  const lacks = (...features: string[]): string | undefined => {
    const missing = features.filter((feature) => !kit.features.includes(feature));
    return missing.length === 0
      ? undefined
      : `the provisioner does not declare the ${missing.join(' and ')} feature${missing.length > 1 ? 's' : ''}`;
  };
  return [
    powerOff(kit),
    powerOn(kit),
    powerStatus(kit),
    nodeStatusSituations(kit),
    powerCycle(kit, lacks('powerCycle')),
    imageSize(kit),
    listImages(kit, lacks('capture')),
    deleteImageLeavesNothing(kit, lacks('capture', 'deleteImage')),
  ];
}

/** The power changes since `mark`, for a message: `off, on`, or `none`. */
function changesSince(kit: ProvisionerCheckKit, mark: number): string {
  const states = kit.harness
    .powerEvents()
    .slice(mark)
    .map((event) => event.state);
  return states.length === 0 ? 'none' : states.join(', ');
}

/** Powers the machine off from inside (`os.shutdown`), as a situation the provisioner did not make. */
async function shutDownFromInside(
  kit: ProvisionerCheckKit,
  fail: Fail,
  why: string,
): Promise<void> {
  await kit.os.shutdown(osContextOf(kit, 'shutdown'));
  if ((await kit.harness.power()) !== 'off')
    fail(`the kit could not power the machine off with os.shutdown to check ${why}`);
}

/** `provisioner/power-off`. */
function powerOff(kit: ProvisionerCheckKit): ConformanceCheck {
  const { provisioner, os, harness, ctx } = kit;
  return kit.check(
    'power-off',
    'powerOff returns once the power is off (as the harness sees it), and a second powerOff changes nothing',
    async (fail) => {
      await harness.reset();
      await provisioner.powerOff(ctx(os, 'powerOff'));
      if ((await harness.power()) !== 'off')
        fail('powerOff returned with the machine still on; it returns once the power is off');
      const mark = harness.powerEvents().length;
      await provisioner
        .powerOff(ctx(os, 'powerOff'))
        .catch((error: unknown) =>
          fail(`a second powerOff threw ${codeOf(error)}; powerOff is idempotent`),
        );
      if (harness.powerEvents().length !== mark)
        fail(
          `a second powerOff changed the machine's power (${changesSince(kit, mark)}); powerOff is idempotent`,
        );
    },
  );
}

/** `provisioner/power-on`. */
function powerOn(kit: ProvisionerCheckKit): ConformanceCheck {
  const { provisioner, os, harness, ctx } = kit;
  return kit.check(
    'power-on',
    'powerOn returns once the power is on, and changes nothing on a machine that is on',
    async (fail) => {
      await harness.reset();
      let mark = harness.powerEvents().length;
      await provisioner.powerOn(ctx(os, 'powerOn'));
      if (harness.powerEvents().length !== mark)
        fail(
          `powerOn of a machine that is on changed its power (${changesSince(kit, mark)}); powerOn is idempotent and changes nothing`,
        );
      await shutDownFromInside(kit, fail, 'powerOn');
      await provisioner.powerOn(ctx(os, 'powerOn'));
      if ((await harness.power()) !== 'on')
        fail('powerOn returned with the machine still off; it returns once the power is on');
      mark = harness.powerEvents().length;
      await provisioner
        .powerOn(ctx(os, 'powerOn'))
        .catch((error: unknown) =>
          fail(`a second powerOn threw ${codeOf(error)}; powerOn is idempotent`),
        );
      if (harness.powerEvents().length !== mark)
        fail(
          `a second powerOn changed the machine's power (${changesSince(kit, mark)}); powerOn is idempotent and changes nothing`,
        );
    },
  );
}

/** `provisioner/power-status`. */
function powerStatus(kit: ProvisionerCheckKit): ConformanceCheck {
  const { provisioner, os, harness, ctx } = kit;
  return kit.check(
    'power-status',
    'powerStatus says what the harness sees — on, off after a shutdown from inside, on while the OS still boots — asking the BMC or hypervisor each time',
    async (fail) => {
      const expect = async (situation: string, wanted: 'on' | 'off') => {
        const said = await provisioner.powerStatus(ctx(os, 'powerStatus'));
        if (said !== wanted)
          fail(
            `with the machine ${situation}, powerStatus said "${said}"; expected "${wanted}": power comes from the BMC or hypervisor, asked each time, never from the network`,
          );
      };
      await harness.reset();
      await expect('on (just reset)', 'on');
      await shutDownFromInside(kit, fail, 'powerStatus');
      await expect('off (shut down from inside by os.shutdown)', 'off');
      await provisioner.powerOn(ctx(os, 'powerOn'));
      if ((await harness.power()) !== 'on') return;
      const answering = await harness.answering?.call(harness);
      await expect(
        answering === false
          ? 'on and its OS still booting (right after powerOn)'
          : 'on (right after powerOn)',
        'on',
      );
    },
  );
}

/** `provisioner/power-cycle`. */
function powerCycle(kit: ProvisionerCheckKit, skip?: string): ConformanceCheck {
  const { provisioner, os, harness, ctx } = kit;
  return kit.check(
    'power-cycle',
    'powerCycle is a new boot: the harness sees the power go off and on again before it returns',
    async (fail) => {
      await harness.reset();
      const mark = harness.powerEvents().length;
      await provisioner.powerCycle(ctx(os, 'powerCycle'));
      const states = harness
        .powerEvents()
        .slice(mark)
        .map((event) => event.state);
      const off = states.indexOf('off');
      if (off < 0 || states.lastIndexOf('on') < off)
        fail(
          `powerCycle returned without a new boot (power changes: ${changesSince(kit, mark)}); a cycle powers the machine off and on again`,
        );
      if ((await harness.power()) !== 'on') fail('after powerCycle the machine is off');
    },
    skip,
  );
}

/** `provisioner/node-status-situations`. */
function nodeStatusSituations(kit: ProvisionerCheckKit): ConformanceCheck {
  const { provisioner, os, harness, ctx } = kit;
  return kit.check(
    'node-status-situations',
    'nodeStatus gives the right verdict, power and responding for a machine just deployed (post-load), loaded (ready), reserved (reload), off (reload) and still booting (reload)',
    async (fail) => {
      const expect = async (
        situation: string,
        wanted: { verdict: NodeVerdict; power: 'on' | 'off'; responding: boolean },
      ) => {
        const status: NodeStatus = await provisioner
          .nodeStatus(ctx(os, 'nodeStatus'))
          .catch((error: unknown) =>
            fail(
              `with the machine ${situation}, nodeStatus threw ${codeOf(error)}; it must answer`,
            ),
          );
        if (
          status.verdict !== wanted.verdict ||
          status.power !== wanted.power ||
          status.responding !== wanted.responding
        )
          fail(
            `with the machine ${situation}, nodeStatus gave verdict "${String(status.verdict)}", power "${String(status.power)}", responding ${String(status.responding)}; expected verdict "${wanted.verdict}", power "${wanted.power}", responding ${wanted.responding}`,
          );
      };
      await harness.reset();
      await expect('just deployed (stamp "captured", postLoad not run)', {
        verdict: 'post-load',
        power: 'on',
        responding: true,
      });
      await os.postLoad(osContextOf(kit, 'postLoad'));
      await expect('loaded (postLoad done)', { verdict: 'ready', power: 'on', responding: true });
      await os.reserve(osContextOf(kit, 'reserve'), { users: harness.users() });
      try {
        await expect('reserved (stamp tainted)', {
          verdict: 'reload',
          power: 'on',
          responding: true,
        });
      } finally {
        await os.sanitize(osContextOf(kit, 'sanitize'));
      }
      await shutDownFromInside(kit, fail, 'nodeStatus');
      await expect('off (shut down by os.shutdown)', {
        verdict: 'reload',
        power: 'off',
        responding: false,
      });
      await provisioner.powerOn(ctx(os, 'powerOn'));
      if ((await harness.power()) !== 'on' || (await harness.answering?.call(harness)) !== false)
        return;
      await expect('on, its OS still booting (not answering yet)', {
        verdict: 'reload',
        power: 'on',
        responding: false,
      });
    },
  );
}

/** The logical size of the harness's raw disk image, when the harness gives it. */
async function logicalSize(kit: ProvisionerCheckKit): Promise<number | undefined> {
  if (kit.harness.imageSource === undefined) return undefined;
  const source = await kit.harness.imageSource();
  if (source.path !== undefined) return (await stat(source.path)).size;
  let size = 0;
  for await (const chunk of source.stream) size += chunk.byteLength;
  return size;
}

/** `provisioner/image-size`. */
function imageSize(kit: ProvisionerCheckKit): ConformanceCheck {
  const { provisioner, harness, storeCtx } = kit;
  return kit.check(
    'image-size',
    "imageSize is each revision's logical disk size (listImages' sizeBytes, the raw image's length), and VLAB_ERR_IMAGE_NOT_FOUND for a missing revision",
    async (fail) => {
      await kit.seeded();
      const image = { name: harness.image.name, revision: harness.image.revision };
      const logical = await logicalSize(kit);
      const size = await provisioner.imageSize(storeCtx(), image);
      if (logical !== undefined && size !== logical)
        fail(
          `imageSize gives ${refName(image)} ${size} bytes, but its raw disk image has ${logical} bytes: imageSize is the logical disk size`,
        );
      for (const listed of await provisioner.listImages(storeCtx())) {
        const listedSize = await provisioner.imageSize(storeCtx(), listed);
        if (listedSize !== listed.sizeBytes)
          fail(
            `imageSize gives ${refName(listed)} ${listedSize} bytes, listImages says sizeBytes ${listed.sizeBytes}: both are the logical disk size`,
          );
      }
      const missing = { name: 'kit-no-such-image', revision: 1 };
      const error = await provisioner.imageSize(storeCtx(), missing).then(
        (answer) =>
          fail(
            `imageSize of a missing revision returned ${answer}; expected VLAB_ERR_IMAGE_NOT_FOUND`,
          ),
        (e: unknown) => e,
      );
      if (!isVlabError(error, 'VLAB_ERR_IMAGE_NOT_FOUND'))
        fail(
          `imageSize of a missing revision threw ${codeOf(error)}, expected VLAB_ERR_IMAGE_NOT_FOUND`,
        );
    },
  );
}

/** `provisioner/list-images`. */
function listImages(kit: ProvisionerCheckKit, skip?: string): ConformanceCheck {
  const { provisioner, os, ctx, storeCtx } = kit;
  return kit.check(
    'list-images',
    'after a capture listImages shows the new revision and nothing else new (no temporary entry), and every revision it lists exists',
    async (fail) => {
      await kit.loaded();
      const before = await storeListing(kit);
      const args = kit.newCapture('image');
      await provisioner.capture(ctx(os, 'capture'), args);
      const captured = refName({ name: args.image, revision: args.newRevision });
      const listed = await provisioner.listImages(storeCtx());
      const extra = listed
        .map(refName)
        .find((name) => !before.listed.has(name) && name !== captured);
      if (extra !== undefined)
        fail(
          `after a capture listImages shows ${extra} besides the new revision ${captured}: it lists no temporary or partial entries`,
        );
      for (const image of listed) {
        if (!(await provisioner.imageExists(storeCtx(), image)))
          fail(`listImages shows ${refName(image)}, but imageExists says it is absent`);
      }
    },
    skip,
  );
}

/** `provisioner/delete-image-leaves-nothing`. */
function deleteImageLeavesNothing(kit: ProvisionerCheckKit, skip?: string): ConformanceCheck {
  const { provisioner, os, harness, ctx, storeCtx } = kit;
  return kit.check(
    'delete-image-leaves-nothing',
    'after deleteImage nothing of the revision is left: not in listImages, imageExists, imageSize or the store; deleting a revision that never existed succeeds',
    async (fail) => {
      await kit.loaded();
      const before = await storeListing(kit);
      const args = kit.newCapture('image');
      await provisioner.capture(ctx(os, 'capture'), args);
      const ref = { name: args.image, revision: args.newRevision };
      await provisioner.deleteImage(storeCtx(), ref);
      const left = (await provisioner.listImages(storeCtx()))
        .map(refName)
        .find((name) => !before.listed.has(name));
      if (left !== undefined)
        fail(`after deleteImage of ${refName(ref)} listImages still shows ${left}`);
      if (await provisioner.imageExists(storeCtx(), { name: ref.name }))
        fail(
          `after deleteImage of ${refName(ref)} imageExists({ name: '${ref.name}' }) still says true`,
        );
      const error = await provisioner.imageSize(storeCtx(), ref).then(
        (size) =>
          fail(
            `after deleteImage imageSize of ${refName(ref)} returned ${size}; expected VLAB_ERR_IMAGE_NOT_FOUND`,
          ),
        (e: unknown) => e,
      );
      if (!isVlabError(error, 'VLAB_ERR_IMAGE_NOT_FOUND'))
        fail(
          `after deleteImage imageSize of ${refName(ref)} threw ${codeOf(error)}, expected VLAB_ERR_IMAGE_NOT_FOUND`,
        );
      if (harness.storeEntries !== undefined && before.entries !== undefined) {
        const entry = (await harness.storeEntries.call(harness)).find(
          (e) => !before.entries?.has(e),
        );
        if (entry !== undefined)
          fail(`after deleteImage of ${refName(ref)} the store still holds ${entry}`);
      }
      await provisioner
        .deleteImage(storeCtx(), { name: 'kit-never-stored', revision: 1 })
        .catch((e: unknown) =>
          fail(
            `deleteImage of a revision that never existed threw ${codeOf(e)}; deleteImage is idempotent: a missing revision is not an error`,
          ),
        );
    },
    skip,
  );
}
