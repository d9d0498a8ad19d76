/** The full example of the configuration file. */
export const FULL_EXAMPLE = `lab: demo
dataDir: ./data
installDir: .
database:
  embedded: { port: 54320 }
secretKey: { file: ./secret.key }
osModules:
  linux: { package: '@vlab/os-linux', settings: { pollIntervalMs: 5 } }
provisioners:
  bm:
    package: '@vlab/provisioner-baremetal'
    settings:
      store: { path: /srv/images }
      timeouts: { powerMs: 60000 }
pools:
  - provisioner: bm
    attributes: { bmcUser: admin, deployDisk: /dev/sda }
    credentials: { bmc: { env: VLAB_BMC } }
    computers:
      - { name: c1, hostname: c1.lab.example, addresses: { management: 10.0.0.11, public: 192.0.2.11 }, attributes: { bmcHost: 10.0.1.11 }, credentials: { deployKey: { file: ./keys/deploy } } }
      - name: c3
        hostname: c3.lab.example
        addresses: { management: 10.0.0.13 }
        attributes: { bmcHost: 10.0.1.13, bmcUser: operator }
computers:
  - { name: c2, provisioner: bm, hostname: c2.lab.example, addresses: { management: 10.0.0.12 }, attributes: { bmcHost: 10.0.1.12 }, credentials: { bmc: { env: VLAB_BMC_C2 } } }
images:
  - { name: debian-12, osFamily: linux, owner: alice, newRevisionTest: auto }
policies:
  reservation: { maxHours: 24, unusedReclaimMinutes: 15, connectCheckSeconds: 30 }
  preload: true
  powerSync: { intervalSeconds: 120, failuresBeforeMaintenance: 3 }
  concurrency: { perProvisioner: 8 }
  heartbeatSeconds: 10
`;
