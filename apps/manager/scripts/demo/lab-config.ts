import { DEPLOY_DISK_PATH, type Lab } from '@vlab/testlab';

/** The one image of a lab's store at its start: the testlab's base Debian, revision 1. */
export const LAB_IMAGE = 'debian-bookworm';

/** What differs between the manager configurations of lab computers (the demo's, the tests'). */
export interface LabConfigOptions {
  readonly lab: string;
  readonly dataDir: string;
  readonly installDir: string;
  /** The `database` entry, as YAML (`{ embedded: {} }`). */
  readonly database: string;
  /** The image store's directory. */
  readonly storeDir: string;
  /** The owner of {@link LAB_IMAGE}. */
  readonly imageOwner: string;
  readonly newRevisionTest: 'auto' | 'manual' | 'off';
  /** The environment variable that holds the BMC password of `computer`. */
  readonly bmcPasswordEnv: (computer: string) => string;
}

/**
 * The manager's configuration for the computers of a testlab, as an operator would write it:
 * `@vlab/os-linux` and `@vlab/provisioner-baremetal` over the lab's BMCs and deploy environment.
 */
export function labConfigText(lab: Lab, options: LabConfigOptions): string {
  const q = (value: string | number): string => JSON.stringify(String(value));
  const computers = lab.computers.map((c) => {
    const deployHostKey = c.deployHostKeys[0];
    if (deployHostKey === undefined) throw new Error(`${c.name} has no deploy host key`);
    return `      - name: ${c.name}
        hostname: ${c.name}
        addresses: { management: ${q(c.ip)} }
        attributes:
          bmcHost: ${q(c.bmc.host)}
          bmcPort: ${q(c.bmc.port)}
          bmcUser: ${q(c.bmc.user)}
          bmcCipherSuite: ${q(c.bmc.cipherSuite)}
          deployHostKey: ${q(deployHostKey)}
        credentials:
          bmc: { env: ${options.bmcPasswordEnv(c.name)} }`;
  });
  return `lab: ${options.lab}
dataDir: ${q(options.dataDir)}
installDir: ${q(options.installDir)}
database: ${options.database}
osModules:
  linux:
    package: '@vlab/os-linux'
    settings: { pollIntervalMs: 200 }
provisioners:
  bm:
    package: '@vlab/provisioner-baremetal'
    settings:
      store: { path: ${q(options.storeDir)} }
      deployDisk: ${DEPLOY_DISK_PATH}
      # The lab's BMCs (ipmi_sim) speak suite 3 only; the operator allows it here.
      cipherSuites: [17, 3]
      pollIntervalMs: 200
pools:
  - provisioner: bm
    attributes: { deployDisk: ${DEPLOY_DISK_PATH} }
    credentials:
      # The lab's management key: root on every installed OS and every deploy environment.
      ssh: { file: ${q(lab.managementKey.path)} }
      deployKey: { file: ${q(lab.managementKey.path)} }
    computers:
${computers.join('\n')}
images:
  - { name: ${LAB_IMAGE}, osFamily: linux, owner: ${options.imageOwner}, newRevisionTest: ${options.newRevisionTest} }
`;
}
