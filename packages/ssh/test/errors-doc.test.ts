import { ERROR_CODE_PATTERN } from '@vlab/core';
import { describeErrorsDoc } from '@vlab/test-utils';
import { RETIRED_SSH_ERROR_CODES, SSH_ERROR_CODES } from '../src/errors.js';

describeErrorsDoc({
  section: '@vlab/ssh',
  codes: SSH_ERROR_CODES,
  retired: RETIRED_SSH_ERROR_CODES,
  retiredName: 'RETIRED_SSH_ERROR_CODES',
  source: 'SSH_ERROR_CODES (packages/ssh/src/errors.ts)',
  pattern: ERROR_CODE_PATTERN,
});
