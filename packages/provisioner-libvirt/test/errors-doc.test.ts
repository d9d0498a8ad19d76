import { ERROR_CODE_PATTERN } from '@vlab/core';
import { describeErrorsDoc } from '@vlab/test-utils';
import { LIBVIRT_ERROR_CODES, RETIRED_LIBVIRT_ERROR_CODES } from '../src/errors.js';

describeErrorsDoc({
  section: '@vlab/provisioner-libvirt',
  codes: LIBVIRT_ERROR_CODES,
  retired: RETIRED_LIBVIRT_ERROR_CODES,
  retiredName: 'RETIRED_LIBVIRT_ERROR_CODES',
  source: 'LIBVIRT_ERROR_CODES (packages/provisioner-libvirt/src/errors.ts)',
  pattern: ERROR_CODE_PATTERN,
});
