import { ERROR_CODE_PATTERN } from '@vlab/core';
import { describeErrorsDoc } from '@vlab/test-utils';
import { BAREMETAL_ERROR_CODES, RETIRED_BAREMETAL_ERROR_CODES } from '../src/errors.js';

describeErrorsDoc({
  section: '@vlab/provisioner-baremetal',
  codes: BAREMETAL_ERROR_CODES,
  retired: RETIRED_BAREMETAL_ERROR_CODES,
  retiredName: 'RETIRED_BAREMETAL_ERROR_CODES',
  source: 'BAREMETAL_ERROR_CODES (packages/provisioner-baremetal/src/errors.ts)',
  pattern: ERROR_CODE_PATTERN,
});
