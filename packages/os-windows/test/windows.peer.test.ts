import { isVlabError, type ReservationUser, Secret } from '@vlab/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWindowsOsModule, windowsOsConfig } from '../src/index.js';
import { POWERSHELL_HOSTILE_VALUES } from './peer-kit.js';
import { type PeerTarget, startPeerTarget } from './peer-target.js';
import { describeWindowsScenarios } from './scenarios.js';

// The module over real SSH (@vlab/ssh, shell: powershell) against @vlab/test-peers' scripted
// Windows peer: the exact command lines Windows' sshd would get, decoded, parsed with PowerShell's
// grammar and run on a modelled Windows Server 2022 with only the commands the peer models.
describeWindowsScenarios('os-windows over SSH against the scripted Windows peer', () =>
  startPeerTarget(),
);

describe('hostile values over SSH on the scripted Windows peer', () => {
  // Every value validation lets through reaches Windows as exactly that text: the full name and
  // the password as New-LocalUser / Set-LocalUser stored them in the model.
  let t: PeerTarget;
  const os = createWindowsOsModule(windowsOsConfig({ pollIntervalMs: 20 }));
  beforeAll(async () => {
    t = await startPeerTarget();
    await os.postLoad(t.ctx());
  });
  afterAll(() => t?.close());

  it.each(POWERSHELL_HOSTILE_VALUES.map((value) => [JSON.stringify(value.slice(0, 40)), value]))(
    'full name and password %s are stored exactly, or refused before anything is sent',
    async (_shown, value) => {
      const password = `Aa1-long-${value}`;
      const user: ReservationUser = {
        login: 'carol',
        fullName: value,
        sshKeys: [],
        password: new Secret(password, 'pw'),
        admin: false,
        allowFrom: [],
      };
      const sent = t.commandLines().length;
      try {
        await os.reserve(t.ctx(), { users: [user] });
      } catch (error) {
        expect(isVlabError(error, 'VLAB_ERR_CONFIG_INVALID'), String(error)).toBe(true);
        expect(t.commandLines().length).toBe(sent);
        return;
      }
      const carol = t.machine.findUser('carol');
      expect(carol?.fullName).toBe(value);
      expect(carol?.password).toBe(password);
      for (const line of t.commandLines().slice(sent)) expect(line).not.toContain(password);
      await os.sanitize(t.ctx());
      expect(t.machine.findUser('carol')).toBeUndefined();
    },
  );
});
