import { type ComputerRef, coreError, type SecretRef } from '@vlab/core';
import type { BaremetalConfig } from './config.js';

/**
 * What the provisioner needs to know of one computer, from its `ComputerRef`:
 *
 * | attribute        | required | meaning |
 * |------------------|----------|---------|
 * | `bmcHost`        | yes      | the BMC's address |
 * | `bmcPort`        | no       | its RMCP+ UDP port (default 623) |
 * | `bmcUser`        | yes      | the BMC login |
 * | `bmcCipherSuite` | no       | the one suite this BMC uses (17 or 3; must be in the config's `cipherSuites`) |
 * | `deployHostKey`  | yes      | the deploy environment's SSH host key, `type base64`, pinned |
 * | `deployDisk`     | no       | the disk in the deploy environment (default: the config's `deployDisk`) |
 * | `rootFileSystem` | no       | the ext2/3/4 root file system in the deploy environment, for host keys (default: `deployDisk`, a whole-disk file system) |
 *
 * and the credentials `bmc` (the BMC password) and `deployKey` (the private key the deploy
 * environment authorizes). The management address is where the deploy environment answers.
 * @public
 */
export interface ComputerFacts {
  /** The computer's name (every error names it). */
  readonly name: string;
  /** Its management address: where the deploy environment and the installed OS answer SSH. */
  readonly address: string;
  /** Its BMC: address, port, login, the cipher suites to offer, the password's reference. */
  readonly bmc: {
    readonly host: string;
    readonly port: number;
    readonly user: string;
    readonly cipherSuites: readonly (17 | 3)[];
    readonly password: SecretRef;
  };
  /** Its deploy environment: pinned host key, disk, root file system, login and key reference. */
  readonly deploy: {
    readonly hostKey: string;
    readonly disk: string;
    readonly rootFileSystem: string;
    readonly user: string;
    readonly key: SecretRef;
  };
}

const HOST_KEY = /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,3}$/;
const DEVICE = /^\/dev\/[A-Za-z0-9._/-]+$/;

/**
 * Reads and checks a computer's attributes and credentials; throws `VLAB_ERR_CONFIG_INVALID`
 * naming the computer and the attribute (never a secret: credentials are references).
 * @public
 */
export function computerFacts(computer: ComputerRef, config: BaremetalConfig): ComputerFacts {
  const invalid = (key: string, why: string) =>
    coreError(
      'VLAB_ERR_CONFIG_INVALID',
      `computer ${computer.name}: ${key} ${why} (see @vlab/provisioner-baremetal's README, "Computer attributes")`,
      { computer: computer.name, details: { attribute: key } },
    );
  const attribute = (key: string, required: boolean): string | undefined => {
    const value = computer.attributes[key];
    if (value === undefined || value === '') {
      if (required) throw invalid(`attribute ${key}`, 'is missing');
      return undefined;
    }
    return value;
  };
  const credential = (key: string): SecretRef => {
    const ref = computer.credentials[key];
    if (ref === undefined) throw invalid(`credential ${key}`, 'is missing');
    return ref;
  };

  const port = Number(attribute('bmcPort', false) ?? '623');
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw invalid('attribute bmcPort', 'is not a port number');
  const suite = attribute('bmcCipherSuite', false);
  let cipherSuites = config.cipherSuites;
  if (suite !== undefined) {
    const wanted = Number(suite);
    if (!config.cipherSuites.includes(wanted as 17 | 3))
      throw invalid(
        'attribute bmcCipherSuite',
        `is ${suite}, which the config's cipherSuites (${config.cipherSuites.join(', ')}) do not allow`,
      );
    cipherSuites = [wanted as 17 | 3];
  }
  const hostKey = (attribute('deployHostKey', true) as string).trim().split(/\s+/).slice(0, 2);
  if (!HOST_KEY.test(hostKey.join(' ')))
    throw invalid('attribute deployHostKey', 'is not an SSH public key ("type base64")');
  const device = (key: string, fallback: string): string => {
    const path = attribute(key, false) ?? fallback;
    if (!DEVICE.test(path) || path.split('/').includes('..'))
      throw invalid(`attribute ${key}`, 'is not a device path under /dev');
    return path;
  };
  const disk = device('deployDisk', config.deployDisk);
  return {
    name: computer.name,
    address: computer.addresses.management,
    bmc: {
      host: attribute('bmcHost', true) as string,
      port,
      user: attribute('bmcUser', true) as string,
      cipherSuites,
      password: credential('bmc'),
    },
    deploy: {
      hostKey: hostKey.join(' '),
      disk,
      rootFileSystem: device('rootFileSystem', disk),
      user: config.deployUser,
      key: credential('deployKey'),
    },
  };
}
