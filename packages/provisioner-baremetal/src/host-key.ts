import { generateHostKey, type ProvisionerContext } from '@vlab/core';
import type { DeployEnvironment } from './deploy-environment.js';
import { PUT_HOST_KEY } from './deploy-scripts.js';

/**
 * First contact: a fresh Ed25519 host key pair, made here, written onto the disk's root file
 * system from the deploy environment (replacing every host key there) and pinned with
 * `trustHostKeys` before the machine boots it. The private key travels on stdin only.
 */
export async function putHostKey(
  ctx: ProvisionerContext,
  env: DeployEnvironment,
  rootFileSystem: string,
): Promise<void> {
  const key = generateHostKey(ctx.computer.name);
  const [type, base64] = key.publicKey.split(' ');
  await env.run(
    ctx,
    'writing the SSH host key',
    PUT_HOST_KEY,
    [rootFileSystem, `${type} ${base64} ${ctx.computer.name}`],
    {
      stdin: Buffer.from(key.privateKey.reveal(), 'utf8'),
    },
  );
  await ctx.communicator.trustHostKeys([key.publicKey], { signal: ctx.signal });
}
