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

  it("refuses an OS family the provisioner does not handle, unless it handles 'any'", () => {
    const windows = os('windows', ['off']);
    const verdict = isCompatible(windows, full, { operation: 'load' });
    expect(verdict.ok).toBe(false);
    expect(verdict.problems).toEqual([
      'provisioner prov-test does not handle the windows OS family of os-windows',
    ]);
    const anyFamily = provisioner({ ...full.capabilities, osFamilies: 'any' });
    expect(isCompatible(windows, anyFamily, { operation: 'load' }).ok).toBe(true);
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
    const verdict = isCompatible(linux, weak, {
      operation: 'capture',
      mode: 'checkpoint',
      osFamily: 'windows',
    });
    expect(verdict.ok).toBe(false);
    expect(verdict.problems).toHaveLength(4);
  });
});

describe('assertCompatible', () => {
  it('passes when compatible', () => {
    expect(() => assertCompatible(linux, full, { operation: 'load' })).not.toThrow();
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
