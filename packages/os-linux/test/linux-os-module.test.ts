import { createLogger, createSecretResolver, instantiateOsModule, isVlabError } from '@vlab/core';
import { describe, expect, it } from 'vitest';
import { linuxOsConfig } from '../src/config.js';
import linuxOsModule, { createLinuxOsModule } from '../src/index.js';

const deps = { log: createLogger(() => {}), secrets: createSecretResolver({ env: {} }) };

function codeOf(work: () => unknown): string | undefined {
  try {
    work();
  } catch (error) {
    return isVlabError(error) ? error.code : String(error);
  }
  return undefined;
}

describe('the os-linux module definition', () => {
  it('loads as the manager loads it, with every default', async () => {
    const os = await instantiateOsModule(linuxOsModule, {}, deps);
    expect(os.name).toBe('os-linux');
    expect(os.family).toBe('linux');
    expect(os.capabilities).toEqual({
      endStates: ['off', 'reboot', 'on'],
      features: ['passwordLogin', 'adminUsers', 'userConnected', 'identityDisk', 'firewall'],
    });
    expect(linuxOsModule).toMatchObject({ kind: 'os', name: 'os-linux', contract: '^1.1.0' });
    expect(os.userConnected).toBeTypeOf('function');
  });

  it('does not declare the firewall feature when told to leave the firewall alone', async () => {
    const os = await instantiateOsModule(linuxOsModule, { firewall: 'none' }, deps);
    expect(os.capabilities.features).toEqual([
      'passwordLogin',
      'adminUsers',
      'userConnected',
      'identityDisk',
    ]);
  });

  it('refuses unknown keys and wrong types, naming the key', async () => {
    for (const config of [
      { bogus: 1 },
      { sshPort: 0 },
      { firewall: 'ufw' },
      { managementKeys: 'x' },
    ]) {
      const error = await instantiateOsModule(linuxOsModule, config, deps).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isVlabError(error, 'VLAB_ERR_CONFIG_INVALID'), JSON.stringify(config)).toBe(true);
    }
    expect(codeOf(() => linuxOsConfig({ sshPort: 70000 }))).toBe('VLAB_ERR_CONFIG_INVALID');
  });

  it('checks keys, networks and time servers of the config before touching any machine', () => {
    for (const config of [
      { managementKeys: ['ssh-ed25519 AAAA; reboot'] },
      { managementNetworks: ['10.0.0.0/8; nft flush ruleset'] },
      { timeServers: ['ntp.example.org; reboot'] },
    ]) {
      expect(
        codeOf(() => createLinuxOsModule(linuxOsConfig(config))),
        JSON.stringify(config),
      ).toBe('VLAB_ERR_CONFIG_INVALID');
    }
    expect(
      codeOf(() =>
        createLinuxOsModule(
          linuxOsConfig({
            managementNetworks: ['10.0.0.0/8', '2001:db8::/32'],
            timeServers: ['192.0.2.1', 'ntp.example.org'],
          }),
        ),
      ),
    ).toBeUndefined();
  });
});
