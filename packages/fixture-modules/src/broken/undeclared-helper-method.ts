import {
  type CaptureArgs,
  type CaptureResult,
  type ComputerContext,
  defineProvisioner,
  type ImageQuery,
  type ImageRevisionRef,
  type LoadArgs,
  type LoadResult,
  type NodeStatus,
  type OperationContext,
  type PowerState,
  type Provisioner,
  type ProvisionerCapabilities,
  type ProvisionerContext,
  type StoredImage,
} from '@vlab/core';
import memoryProvisioner, { memoryProvisionerConfig } from '../memory-provisioner.js';

/**
 * BROKEN on purpose: a class-based provisioner whose prototype carries a public helper method,
 * `imageLabel`, that is not in the contract and not declared in `extensions`.
 * `instantiateProvisioner` refuses it, and the kit's `provisioner/declared-extensions` fails it.
 * (A `#private` method, a closure, or an `extensions` entry would be fine.)
 */
class HelperProvisioner implements Provisioner {
  readonly name = 'provisioner-undeclared-helper-method';
  readonly capabilities: ProvisionerCapabilities;
  readonly #good: Provisioner;

  constructor(good: Provisioner) {
    this.#good = good;
    this.capabilities = good.capabilities;
  }

  /** The undeclared helper. */
  imageLabel(image: ImageRevisionRef): string {
    return `${image.name}@${image.revision}`;
  }

  load(ctx: ProvisionerContext, args: LoadArgs): Promise<LoadResult> {
    ctx.log.info('loading', {
      image: this.imageLabel({ name: args.image, revision: args.revision }),
    });
    return this.#good.load(ctx, args);
  }
  capture(ctx: ProvisionerContext, args: CaptureArgs): Promise<CaptureResult> {
    return this.#good.capture(ctx, args);
  }
  powerOn(ctx: ComputerContext): Promise<void> {
    return this.#good.powerOn(ctx);
  }
  powerOff(ctx: ComputerContext): Promise<void> {
    return this.#good.powerOff(ctx);
  }
  powerCycle(ctx: ComputerContext): Promise<void> {
    return this.#good.powerCycle(ctx);
  }
  powerStatus(ctx: ComputerContext): Promise<PowerState> {
    return this.#good.powerStatus(ctx);
  }
  nodeStatus(ctx: ProvisionerContext): Promise<NodeStatus> {
    return this.#good.nodeStatus(ctx);
  }
  imageExists(ctx: OperationContext, query: ImageQuery): Promise<boolean> {
    return this.#good.imageExists(ctx, query);
  }
  imageSize(ctx: OperationContext, image: ImageRevisionRef): Promise<number> {
    return this.#good.imageSize(ctx, image);
  }
  listImages(ctx: OperationContext): Promise<readonly StoredImage[]> {
    return this.#good.listImages(ctx);
  }
  deleteImage(ctx: OperationContext, image: ImageRevisionRef): Promise<void> {
    return this.#good.deleteImage(ctx, image);
  }
}

export default defineProvisioner({
  name: 'provisioner-undeclared-helper-method',
  version: '0.0.0',
  contract: '^1.1.0',
  configSchema: memoryProvisionerConfig,
  async create(config, deps): Promise<Provisioner> {
    const good = await memoryProvisioner.create(config, deps);
    // Without the 1.1 features it does not implement.
    const features = good.capabilities.features.filter(
      (f) => f !== 'importImage' && f !== 'release',
    );
    const instance = new HelperProvisioner(good);
    Object.assign(instance, { capabilities: { ...good.capabilities, features } });
    return instance;
  },
});
