import { instantiateOsModule } from '@vlab/core';
import { describeOsModuleConformance } from '@vlab/core/testing';
import { afterAll } from 'vitest';
import windowsOsModule from '../src/index.js';
import { createPeerHarness } from './peer-harness.js';

// The conformance kit of @vlab/core over real SSH to the scripted Windows peer: every check resets
// to a fresh modelled Windows Server 2022 carrying a captured image's stamp.
const harness = createPeerHarness();
afterAll(() => harness.close());

describeOsModuleConformance(
  'os-windows passes the conformance kit on the scripted Windows peer',
  {
    os: await instantiateOsModule(
      windowsOsModule,
      { pollIntervalMs: 20 },
      harness.moduleDeps?.() ??
        (() => {
          throw new Error('no deps');
        })(),
    ),
    harness,
    options: {
      knownErrorCodes: [
        'VLAB_ERR_WINDOWS_SYSPREP_FAILED',
        'VLAB_ERR_WINDOWS_SETUP_INCOMPLETE',
        'VLAB_ERR_SSH_HOSTKEY_UNKNOWN',
        'VLAB_ERR_SSH_AUTH_FAILED',
        'VLAB_ERR_SSH_HANDSHAKE_FAILED',
        'VLAB_ERR_SSH_CHANNEL_REFUSED',
        'VLAB_ERR_SSH_POOL_CLOSED',
      ],
    },
  },
  { testTimeoutMs: 90_000 },
);
