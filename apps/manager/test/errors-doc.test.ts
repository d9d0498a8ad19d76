import { ERROR_CODE_PATTERN } from '@vlab/core';
import { describeErrorsDoc } from '@vlab/test-utils';
import { MANAGER_ERROR_CODES, RETIRED_MANAGER_ERROR_CODES } from '../src/errors.js';

describeErrorsDoc({
  section: '@vlab/manager',
  codes: MANAGER_ERROR_CODES,
  retired: RETIRED_MANAGER_ERROR_CODES,
  retiredName: 'RETIRED_MANAGER_ERROR_CODES',
  source: 'MANAGER_ERROR_CODES (apps/manager/src/errors.ts)',
  pattern: ERROR_CODE_PATTERN,
});
