import { describe, expect, it } from 'vitest';
import { assertCompatible, isCompatible } from '../src/compatibility.js';
import type { EndState } from '../src/end-state.js';
import { isVlabError, type VlabError } from '../src/errors/vlab-error.js';
import type { OsModule } from '../src/os-module.js';
import type { Provisioner, ProvisionerCapabilities } from '../src/provisioner.js';

function unused(): never {
  throw new Error('not used by this test');
}

function os(family: string, endStates: readonly EndState[]): OsModule {
  return {
    name: `os-${family}`,
    family,
    capabilities: { endStates, features: [] },
    postLoad: unused,
    reserve: unused,
    sanitize: unused,
    postReservation: unused,
    preCapture: unused,
    isResponding: unused,
    waitForResponse: unused,
    shutdown: unused,
    reboot: unused,
    readStamp: unused,
  };
}

function provisioner(capabilities: ProvisionerCapabilities): Provisioner {
  return {
    name: 'prov-test',
    capabilities,
    load: unused,
    capture: unused,
    powerOn: unused,
    powerOff: unused,
    powerCycle: unused,
    powerStatus: unused,
    nodeStatus: unused,
    imageExists: unused,
    imageSize: unused,
    listImages: unused,
    deleteImage: unused,
  };
}

const linux = os('linux', ['off', 'reboot']);
const full = provisioner({
  features: ['capture', 'checkpoint'],
  captureEndState: 'off',
  osFamilies: ['linux'],
});

describe('isCompatible', () => {
  it('is ok when everything matches', () => {
    expect(isCompatible(linux, full, { operation: 'load', osFamily: 'linux' })).toEqual({
      ok: true,
      problems: [],
    });
    expect(isCompatible(linux, full, { operation: 'capture', mode: 'image' })).toEqual({
      ok: true,
      problems: [],
    });
    expect(isCompatible(linux, full, { operation: 'capture', mode: 'checkpoint' }).ok).toBe(true);
  });

  it("refuses an OS family whose first contact the provisioner cannot arrange, unless it declares 'any'", () => {
    const windows = os('windows', ['off']);
    const verdict = isCompatible(windows, full, { operation: 'load' });
    expect(verdict.ok).toBe(false);
    expect(verdict.problems).toEqual([
      'provisioner prov-test cannot arrange a trusted first contact with the windows OS family of OS module os-windows (its osFamilies: linux)',
    ]);
    // Captures too: the checkpoint boots the machine again, a first contact of its own.
    expect(isCompatible(windows, full, { operation: 'capture', mode: 'image' }).problems).toEqual(
      verdict.problems,
    );
    const anyFamily = provisioner({ ...full.capabilities, osFamilies: 'any' });
    expect(isCompatible(windows, anyFamily, { operation: 'load' }).ok).toBe(true);
    const both = provisioner({ ...full.capabilities, osFamilies: ['linux', 'windows'] });
    expect(isCompatible(windows, both, { operation: 'load' }).ok).toBe(true);
  });

  it("accepts an OS module that declares no family only with a provisioner declaring 'any'", () => {
    // A module that does not follow its type (plain JavaScript): family missing or empty.
    const { family: _dropped, ...rest } = linux;
    const missing = { ...rest, name: 'os-nameless' } as unknown as OsModule;
    const empty: OsModule = { ...linux, name: 'os-empty', family: '' };
    for (const unknownFamily of [missing, empty]) {
      const verdict = isCompatible(unknownFamily, full, { operation: 'load' });
      expect(verdict.ok).toBe(false);
      expect(verdict.problems).toEqual([
        `OS module ${unknownFamily.name} declares no OS family, and provisioner prov-test can arrange a trusted first contact only for the families it names (linux), not for an unknown one`,
      ]);
      const anyFamily = provisioner({ ...full.capabilities, osFamilies: 'any' });
      expect(isCompatible(unknownFamily, anyFamily, { operation: 'load' })).toEqual({
        ok: true,
        problems: [],
      });
      // An image of a known family still needs an OS module of that family.
      expect(
        isCompatible(unknownFamily, anyFamily, { operation: 'load', osFamily: 'linux' }).problems,
      ).toEqual([
        `the image is linux, but OS module ${unknownFamily.name} serves no declared OS family`,
      ]);
    }
  });

  it('refuses a communicator shell other than the one the OS module declares, when the request knows it', () => {
    const posix: OsModule = { ...linux, shell: 'posix' };
    expect(isCompatible(posix, full, { operation: 'load', shell: 'posix' }).ok).toBe(true);
    const verdict = isCompatible(posix, full, { operation: 'load', shell: 'powershell' });
    expect(verdict.ok).toBe(false);
    expect(verdict.problems).toEqual([
      "OS module os-linux needs a posix communicator, but the computer's communicator speaks powershell",
    ]);
    expect(
      isCompatible(posix, full, { operation: 'capture', mode: 'image', shell: 'powershell' })
        .problems,
    ).toEqual(verdict.problems);
    // The request does not know the shell: nothing to check.
    expect(isCompatible(posix, full, { operation: 'load' }).ok).toBe(true);
    // A 1.0 OS module declares no shell: nothing to check either.
    expect(linux.shell).toBeUndefined();
    expect(isCompatible(linux, full, { operation: 'load', shell: 'powershell' }).ok).toBe(true);
  });

  it("refuses an image whose OS family is not the OS module's", () => {
    const verdict = isCompatible(linux, full, { operation: 'load', osFamily: 'windows' });
    expect(verdict.ok).toBe(false);
    expect(verdict.problems).toEqual(['the image is windows, but OS module os-linux serves linux']);
  });

  it('refuses a capture mode whose feature the provisioner lacks', () => {
    const noCheckpoint = provisioner({ ...full.capabilities, features: ['capture'] });
    expect(isCompatible(linux, noCheckpoint, { operation: 'capture', mode: 'image' }).ok).toBe(
      true,
    );
    const checkpoint = isCompatible(linux, noCheckpoint, {
      operation: 'capture',
      mode: 'checkpoint',
    });
    expect(checkpoint.problems).toEqual(['provisioner prov-test does not declare checkpoint']);

    const noCapture = provisioner({ ...full.capabilities, features: ['checkpoint'] });
    expect(
      isCompatible(linux, noCapture, { operation: 'capture', mode: 'image' }).problems,
    ).toEqual(['provisioner prov-test does not declare capture']);
    // Loading does not need either feature.
    expect(isCompatible(linux, noCapture, { operation: 'load' }).ok).toBe(true);
  });

  it('refuses a capture end state the OS module does not support', () => {
    const onOnly = provisioner({ ...full.capabilities, captureEndState: 'on' });
    const verdict = isCompatible(linux, onOnly, { operation: 'capture', mode: 'image' });
    expect(verdict.ok).toBe(false);
    expect(verdict.problems).toHaveLength(1);
    expect(verdict.problems[0]).toContain('"on"');
    expect(verdict.problems[0]).toContain('os-linux');
    expect(verdict.problems[0]).toContain('off, reboot');
    // End states matter only for captures.
    expect(isCompatible(linux, onOnly, { operation: 'load' }).ok).toBe(true);
  });

  it('lists every problem at once', () => {
    const weak = provisioner({ features: [], captureEndState: 'on', osFamilies: ['bsd'] });
    const verdict = isCompatible({ ...linux, shell: 'posix' }, weak, {
      operation: 'capture',
      mode: 'checkpoint',
      osFamily: 'windows',
      shell: 'powershell',
    });
    expect(verdict.ok).toBe(false);
    expect(verdict.problems).toHaveLength(5);
  });
});

describe('assertCompatible', () => {
  it('passes when compatible', () => {
    expect(() => assertCompatible(linux, full, { operation: 'load' })).not.toThrow();
  });

  it('refuses an OS module that lacks a feature the provisioner requires (identityDisk)', () => {
    const overlays = provisioner({ ...full.capabilities, requiredOsFeatures: ['identityDisk'] });
    expect(isCompatible(linux, overlays, { operation: 'load' }).problems).toEqual([
      'provisioner prov-test needs OS modules with the identityDisk feature, which OS module os-linux does not declare',
    ]);
    const withIdentity: OsModule = {
      ...linux,
      capabilities: { ...linux.capabilities, features: ['identityDisk'] },
    };
    expect(isCompatible(withIdentity, overlays, { operation: 'load' }).ok).toBe(true);
  });

  it('throws VLAB_ERR_CAPABILITY_MISSING listing the problems', () => {
    const noCheckpoint = provisioner({ ...full.capabilities, features: ['capture'] });
    let thrown: unknown;
    try {
      assertCompatible(linux, noCheckpoint, { operation: 'capture', mode: 'checkpoint' }, 'node12');
    } catch (error) {
      thrown = error;
    }
    expect(isVlabError(thrown, 'VLAB_ERR_CAPABILITY_MISSING')).toBe(true);
    const error = thrown as VlabError;
    expect(error.computer).toBe('node12');
    expect(error.message).toContain(
      'cannot capture: provisioner prov-test does not declare checkpoint',
    );
    expect(error.details['problems']).toEqual([
      'provisioner prov-test does not declare checkpoint',
    ]);
  });
});
